"""Composition root of the CAPA service (port 8002).

``uvicorn services.capa.app:create_app --factory``
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from shared.http.app import service_app

from .api import ROUTERS
from .service import SERVICE, run_overdue_checks, subscriptions
from .service.common import AuditKey
from .settings import CapaSettings


def create_app(settings: CapaSettings | None = None) -> FastAPI:
    settings = settings or CapaSettings()
    AuditKey.use(settings.audit_key.get_secret_value() if settings.audit_key else None)
    app = service_app(service=SERVICE, title="CAPAflow CAPA service", settings=settings,
                      subscriptions=subscriptions(settings), routers=ROUTERS)
    runtime_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The runtime (engine, bus, relay, consumers) first, then the overdue job beside it.
        async with runtime_lifespan(app):
            stop = asyncio.Event()
            job = None
            if settings.run_workers:
                job = asyncio.create_task(run_overdue_checks(
                    app.state.runtime.sessions, interval=settings.overdue_check_interval,
                    stop=stop), name="overdue-checks")
            try:
                yield
            finally:
                stop.set()
                if job is not None:
                    _, pending = await asyncio.wait({job}, timeout=10)
                    for task in pending:
                        task.cancel()

    app.router.lifespan_context = lifespan
    return app
