"""The FastAPI app every service is: lifespan runtime, errors, health, metrics."""

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request

from shared import tracing
from shared.auth import KeyFile
from shared.db import SessionFactory
from shared.http.errors import PROBLEM_RESPONSES, install_problem_handlers
from shared.http.health import router as health_router
from shared.http.limits import BodySizeLimit, NulGuard, UploadLimit
from shared.http.uploads import ENVELOPE_BYTES
from shared.http.observe import RequestObservation
from shared.observability import configure_logging
from shared.runtime import BackgroundJob, ServiceRuntime, Subscriptions
from shared.settings import ServiceSettings


def service_app(*, service: str, title: str, settings: ServiceSettings,
                subscriptions: Sequence[Subscriptions] = (),
                routers: Sequence[APIRouter] = (),
                jobs: Sequence[BackgroundJob] = (),
                evidence_max_bytes: int | None = None) -> FastAPI:
    """``evidence_max_bytes``: the service takes evidence uploads (POST .../evidence)
    of files up to that size; their bodies get that limit plus the multipart envelope."""
    configure_logging(service=service, level=settings.log_level, json_logs=settings.log_json)
    tracing.configure_exporter(service=service, exporter=settings.otel_exporter,
                               endpoint=settings.otel_endpoint)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with ServiceRuntime(service=service, settings=settings,
                                  subscriptions=subscriptions, jobs=jobs) as runtime:
            app.state.runtime = runtime
            yield

    app = FastAPI(title=title, version="1", lifespan=lifespan)
    app.state.settings = settings
    # Re-read when the file changes: keys are added and revoked without a restart.
    app.state.keys = KeyFile(Path(settings.credentials_file))
    app.add_middleware(NulGuard)
    app.add_middleware(RequestObservation, service=service)
    uploads = (UploadLimit(evidence_max_bytes + ENVELOPE_BYTES)
               if evidence_max_bytes is not None else None)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes, uploads=uploads)
    install_problem_handlers(app)
    tracing.instrument_app(app)
    app.include_router(health_router)
    for router in routers:
        app.include_router(router, responses=PROBLEM_RESPONSES)
    return app


def sessions_of(request: Request) -> SessionFactory:
    """The session factory of the app's runtime (started by :func:`service_app`)."""
    sessions: SessionFactory = request.app.state.runtime.sessions
    return sessions


# What a router takes to hand its use case the service's database.
SessionsDep = Annotated[SessionFactory, Depends(sessions_of)]
