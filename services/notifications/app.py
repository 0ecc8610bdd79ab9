"""Composition root of the notifications service (port 8003).

``uvicorn services.notifications.app:create_app --factory``

Besides what every service runs (outbox relay, consumer), the lifespan
starts the delivery worker and the digest schedule when ``run_workers``; what
this process's consumer and API queue wakes that worker on commit
(``service.matching.deliveries_queued``).
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from shared.http.app import service_app

from .api import ROUTERS
from .service import SERVICE, SUBSCRIPTIONS, with_matcher
from .service.delivery import DeliveryWorker
from .service.digests import run_digest_schedule
from .service.matching import EventMatcher
from .service.stream import StreamSlots
from .settings import NotificationsSettings


def create_app(settings: NotificationsSettings | None = None) -> FastAPI:
    settings = settings or NotificationsSettings()
    # One matcher per app: its filter cache belongs to this app's database.
    matcher = EventMatcher()
    app = service_app(service=SERVICE, title="CAPAflow notifications service",
                      settings=settings, subscriptions=with_matcher(SUBSCRIPTIONS, matcher),
                      routers=ROUTERS)
    app.state.notifications_matcher = matcher
    app.state.stream_slots = StreamSlots(settings.stream_max_per_principal)
    runtime_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with runtime_lifespan(app):
            stop = asyncio.Event()
            app.state.notifications_stop = stop
            tasks: list[asyncio.Task[None]] = []
            if settings.run_workers:
                sessions = app.state.runtime.sessions
                # It listens for the deliveries this process's consumer and API commit.
                worker = DeliveryWorker(sessions=sessions, settings=settings)
                tasks = [asyncio.create_task(worker.run(stop), name="delivery-worker"),
                         asyncio.create_task(run_digest_schedule(
                             sessions, stop, settings.digest_check_interval), name="digests")]
            try:
                yield
            finally:
                stop.set()
                # The delivery worker lets attempts end (up to their deadline) and
                # gives its claims back before it returns: wait for that.
                grace = settings.delivery_deadline + 10
                _, pending = await asyncio.wait(tasks, timeout=grace) if tasks else ((), ())
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)

    app.router.lifespan_context = lifespan
    return app
