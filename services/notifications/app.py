"""Composition root of the notifications service (port 8003).

``uvicorn services.notifications.app:create_app --factory``
"""

from fastapi import FastAPI

from shared.http.app import service_app

from .service import SERVICE, SUBSCRIPTIONS
from .settings import NotificationsSettings


def create_app(settings: NotificationsSettings | None = None) -> FastAPI:
    return service_app(service=SERVICE, title="CAPAflow notifications service",
                       settings=settings or NotificationsSettings(),
                       subscriptions=SUBSCRIPTIONS)
