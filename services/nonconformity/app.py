"""Composition root of the nonconformity service (port 8001).

``uvicorn services.nonconformity.app:create_app --factory``
"""

from fastapi import FastAPI

from shared.http.app import service_app

from .api import ROUTERS
from .service import SERVICE, consumers, jobs
from .settings import NonconformitySettings


def create_app(settings: NonconformitySettings | None = None) -> FastAPI:
    settings = settings or NonconformitySettings()
    app = service_app(service=SERVICE, title="CAPAflow nonconformity service",
                      settings=settings, subscriptions=consumers(settings), routers=ROUTERS,
                      jobs=jobs(settings), evidence=settings.evidence_setup())
    app.state.policy = settings.escalation_policy()
    return app
