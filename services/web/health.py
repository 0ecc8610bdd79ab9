"""The UI's probes and metrics: /healthz (the process answers), /readyz (the session
database answers), /metrics (Prometheus).

Readiness checks only the session database, not the three services: without it no
signed-in page can be shown (every one is a 503), so the pod should leave the
Service; when a service's API is down the UI still serves its other pages and says
which part is unavailable, and taking every UI pod out because one backend is down
would turn a partial outage into a whole one.
"""

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

# Same budget as the services' /readyz (shared/http/health.py): the probe's timeout
# in deploy/k8s/web.yaml is set above it.
CHECK_TIMEOUT_SECONDS = 5
RETRY_AFTER_SECONDS = "5"


def health_router(check_database: Callable[[], Awaitable[None]]) -> APIRouter:
    """The three endpoints; ``check_database`` raises when the session store does not
    answer."""
    router = APIRouter(include_in_schema=False)

    @router.get("/healthz")
    async def healthz() -> PlainTextResponse:
        return PlainTextResponse("ok")

    @router.get("/readyz")
    async def readyz() -> JSONResponse:
        try:
            await asyncio.wait_for(check_database(), timeout=CHECK_TIMEOUT_SECONDS)
            database = "ok"
        except Exception as exc:
            # The error's type only: a driver message can carry the database URL.
            database = f"unavailable: {type(exc).__name__}"
        ready = database == "ok"
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": {"database": database}},
            status_code=200 if ready else 503,
            headers=None if ready else {"Retry-After": RETRY_AFTER_SECONDS,
                                        "Cache-Control": "no-store"})

    @router.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router
