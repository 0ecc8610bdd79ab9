"""Composition root of the CAPA service (port 8002).

``uvicorn services.capa.app:create_app --factory``
"""

from fastapi import FastAPI

from shared.http.app import service_app

from .service import SERVICE, SUBSCRIPTIONS
from .settings import CapaSettings


def create_app(settings: CapaSettings | None = None) -> FastAPI:
    return service_app(service=SERVICE, title="CAPAflow CAPA service",
                       settings=settings or CapaSettings(), subscriptions=SUBSCRIPTIONS)
