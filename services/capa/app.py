"""Composition root of the CAPA service (port 8002).

``uvicorn services.capa.app:create_app --factory``
"""

from fastapi import FastAPI

from shared.http.app import service_app

from .api import ROUTERS
from .service import SERVICE, consumers, jobs
from .service.common import AuditKey
from .settings import CapaSettings


def create_app(settings: CapaSettings | None = None) -> FastAPI:
    settings = settings or CapaSettings()
    AuditKey.use(settings.audit_key.get_secret_value() if settings.audit_key else None)
    return service_app(service=SERVICE, title="CAPAflow CAPA service", settings=settings,
                       subscriptions=consumers(settings), routers=ROUTERS,
                       jobs=jobs(settings), evidence=settings.evidence_setup())
