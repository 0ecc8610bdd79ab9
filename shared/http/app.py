"""The FastAPI app every service is: lifespan runtime, errors, health, metrics."""

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request

from shared import tracing
from shared.auth import KeyFile
from shared.db import SessionFactory
from shared.evidence.store import EvidenceSetup
from shared.http.errors import PROBLEM_RESPONSES, install_problem_handlers
from shared.http.health import router as health_router
from shared.http.limits import BodySizeLimit, NulGuard, UploadLimit
from shared.http.observe import RequestObservation
from shared.http.uploads import ENVELOPE_BYTES
from shared.observability import configure_logging
from shared.oidc import TokenVerifier
from shared.runtime import BackgroundJob, ServiceRuntime, Subscriptions
from shared.settings import ServiceSettings


def service_app(*, service: str, title: str, settings: ServiceSettings,
                subscriptions: Sequence[Subscriptions] = (),
                routers: Sequence[APIRouter] = (),
                jobs: Sequence[BackgroundJob] = (),
                evidence: EvidenceSetup | None = None) -> FastAPI:
    """``evidence``: the service takes evidence uploads (POST .../evidence) of files
    up to its ``max_bytes``; their bodies get that limit plus the multipart envelope."""
    configure_logging(service=service, level=settings.log_level, json_logs=settings.log_json)
    tracing.configure_exporter(service=service, exporter=settings.otel_exporter,
                               endpoint=settings.otel_endpoint)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with ServiceRuntime(service=service, settings=settings,
                                  subscriptions=subscriptions, jobs=jobs) as runtime:
            app.state.runtime = runtime
            try:
                yield
            finally:
                if app.state.oidc is not None:
                    await app.state.oidc.aclose()

    app = FastAPI(title=title, version="1", lifespan=lifespan)
    app.state.settings = settings
    # Re-read when the file changes: keys are added and revoked without a restart.
    app.state.keys = KeyFile(Path(settings.credentials_file))
    # The provider's access tokens beside the keys, when an issuer is configured.
    oidc = settings.oidc_config()
    app.state.oidc = TokenVerifier(oidc) if oidc else None
    app.add_middleware(NulGuard)
    app.add_middleware(RequestObservation, service=service)
    app.state.evidence = evidence
    uploads = UploadLimit(evidence.max_bytes + ENVELOPE_BYTES) if evidence else None
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


def evidence_of(request: Request) -> EvidenceSetup:
    """The evidence store and file limit of a service that takes uploads."""
    evidence: EvidenceSetup = request.app.state.evidence
    return evidence


EvidenceDep = Annotated[EvidenceSetup, Depends(evidence_of)]
