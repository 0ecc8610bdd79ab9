"""One session read and (at most) one write per request.

Before a page runs, the person's session is read from the shared store and put on
the request (``request.state.web_session``); pages change it in memory (a flash
added, flashes shown). Before the response's first byte leaves, what changed is
written back, so the browser's next request — on any replica — finds it.
"""

import logging

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.db import is_unavailable

from .session import SESSION_COOKIE, SessionStore

log = logging.getLogger(__name__)

# Static files, the probes and the metrics need no session; they must answer (or, for
# /readyz, say the database is down) without a session lookup.
NO_SESSION_PREFIXES = ("/static/", "/healthz", "/readyz", "/metrics")

UNAVAILABLE_PAGE = (b"<!doctype html><html lang=\"en\"><meta charset=\"utf-8\">"
                    b"<title>Try again in a moment</title><h1>Try again in a moment</h1>"
                    b"<p>The sign-in store cannot be reached right now. Reload the page in "
                    b"a moment.</p></html>")


class SessionMiddleware:
    def __init__(self, app: ASGIApp, store: SessionStore) -> None:
        self.app = app
        self.store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(NO_SESSION_PREFIXES):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        try:
            state["web_session"] = await self.store.get(
                HTTPConnection(scope).cookies.get(SESSION_COOKIE))
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            # Not knowing who is signed in, no page can be shown: a 503, not a 500.
            log.warning("session store unavailable: %s", type(exc).__name__)
            await _send_unavailable(send)
            return

        async def save_then_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                session = state.get("web_session")
                if session is not None:
                    try:
                        await self.store.save(session)
                    except Exception as exc:
                        # A lost flash or a late last_seen is no reason to fail the page.
                        if not is_unavailable(exc):
                            raise
                        log.warning("session not saved: %s", type(exc).__name__)
            await send(message)

        await self.app(scope, receive, save_then_send)


async def _send_unavailable(send: Send) -> None:
    await send({"type": "http.response.start", "status": 503,
                "headers": [(b"content-type", b"text/html; charset=utf-8"),
                            (b"retry-after", b"5"), (b"cache-control", b"no-store")]})
    await send({"type": "http.response.body", "body": UNAVAILABLE_PAGE})
