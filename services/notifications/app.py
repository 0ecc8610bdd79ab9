"""Composition root of the notifications service (port 8003).

``uvicorn services.notifications.app:create_app --factory``

Besides what every service runs (outbox relay, consumer), its jobs are the
delivery worker and the digest schedule (``service.jobs``), run where
``run_workers`` is on.
"""

from fastapi import FastAPI

from shared.http.app import service_app

from .api import ROUTERS
from .service import SERVICE, consumers, jobs, owner_notices
from .service.matching import EventMatcher
from .service.stream import StreamSlots
from .settings import NotificationsSettings


def create_app(settings: NotificationsSettings | None = None) -> FastAPI:
    settings = settings or NotificationsSettings()
    matcher = EventMatcher(owner_notices(settings))
    app = service_app(service=SERVICE, title="CAPAflow notifications service",
                      settings=settings, subscriptions=consumers(settings, matcher=matcher),
                      routers=ROUTERS, jobs=jobs(settings))
    app.state.notifications_matcher = matcher
    app.state.stream_slots = StreamSlots(settings.stream_max_per_principal)
    return app
