"""Composition root of the web UI (port 8000).

``uvicorn services.web.app:create_app --factory``

A thin app: no bus, and a database of its own that holds only sign-in sessions
(so any replica serves any signed-in person). Pages call the three services'
public APIs with the signed-in person's key (docs/ui.md).
"""

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import select

from shared import tracing
from shared.db import create_engine
from shared.http.limits import BodySizeLimit, UploadLimit
from shared.http.observe import RequestObservation
from shared.http.uploads import ENVELOPE_BYTES

from .client import ApiClient
from .errors import install_error_pages, too_large_page
from .health import health_router
from .models import web_sessions
from .oidc_login import OidcLogin
from .pages import (
    action_list,
    assign,
    auth,
    capa_actions,
    capa_forms,
    capas,
    dashboard,
    evidence,
    home,
    lessons,
    nc_actions,
    nc_bulk,
    nonconformities,
    objectives,
    oidc_sign_in,
    review_meetings,
    review_pack,
    scars,
    similar,
    subscriptions,
    supplier_detail,
    supplier_link,
    supplier_response,
    suppliers,
    watches,
)
from .server_keys import ServerKeys
from .session import SessionStore
from .session_middleware import SessionMiddleware
from .settings import WebSettings

# The pages load nothing from elsewhere and run no inline script.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def create_app(settings: WebSettings | None = None,
               transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    settings = settings or WebSettings()
    logging.basicConfig(level=settings.log_level)
    supplier_response.keep_link_tokens_out_of_logs()
    tracing.configure_exporter(service="web", exporter=settings.otel_exporter,
                               endpoint=settings.otel_endpoint)

    # Connects on first use; the tables come from `python -m services.web.migrate`.
    engine = create_engine(settings.database_url, pool_size=5)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.api = ApiClient(settings, transport=transport)
        try:
            yield
        finally:
            if app.state.oidc_login is not None:
                await app.state.oidc_login.aclose()
            await app.state.api.aclose()
            await engine.dispose()

    app = FastAPI(title="CAPAflow web UI", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.settings = settings
    oidc = settings.oidc_config()
    # Sign-in at the company's provider beside API keys, when one is configured.
    app.state.oidc_login = OidcLogin(
        oidc, client_id=settings.oidc_client_id, client_secret=settings.oidc_client_secret,
        provider_name=settings.oidc_provider_name) if oidc else None
    app.state.sessions = SessionStore(engine, idle_seconds=settings.session_idle_minutes * 60)
    app.state.server_keys = ServerKeys(engine)
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")),
              name="static")
    for module in _page_modules():
        app.include_router(module.router)
    # Added before the headers middleware, so it runs inside it: its 503 gets the headers.
    app.add_middleware(SessionMiddleware, store=app.state.sessions)

    @app.middleware("http")
    async def security_headers(request: Request,
                               call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if "text/html" in response.headers.get("content-type", ""):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    # Outermost: the latency histogram counts every answer, the session store's 503
    # included, under service="web" beside the three services'.
    app.add_middleware(RequestObservation, service="web")
    # Every form's body is bounded before it is parsed (Starlette would spool a
    # file part of any size to disk, even on the sign-in form); the evidence
    # forms get the file's limit, which the service checks again.
    app.add_middleware(BodySizeLimit, max_bytes=settings.form_max_bytes,
                       refusal=too_large_page,
                       uploads=UploadLimit(settings.evidence_max_bytes + ENVELOPE_BYTES))
    install_error_pages(app)
    tracing.instrument_app(app)

    async def check_session_database() -> None:
        # A read of the sessions table, not just SELECT 1: a database the migrate Job
        # has not prepared yet cannot hold a session either.
        async with engine.connect() as conn:
            await conn.execute(select(web_sessions.c.id_hash).limit(1))

    app.include_router(health_router(check_session_database))
    return app


def _page_modules() -> list[ModuleType]:
    # Each area of the UI is one module with a `router`, listed here so the
    # composition root shows the whole UI at a glance.
    return [auth, oidc_sign_in, home, nonconformities, nc_actions, nc_bulk, capas,
            capa_forms, capa_actions, assign, evidence, dashboard, subscriptions, lessons,
            watches, action_list, similar, review_pack, review_meetings, objectives,
            suppliers, scars, supplier_response, supplier_link,
            supplier_detail]  # supplier_detail's /suppliers/{code} last
