"""Per-request correlation id, trace context and latency metrics, as plain ASGI middleware.

The request's span is the FastAPI instrumentation's (shared.tracing.instrument_app,
outside this middleware); this binds its ids for the events and log lines the
request makes, or made-up ones when no exporter is configured."""

import time
from uuid import uuid4

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared import tracing
from shared.observability import HTTP_LATENCY

CORRELATION_HEADER = b"x-correlation-id"


class RequestObservation:
    def __init__(self, app: ASGIApp, *, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        correlation = headers.get(CORRELATION_HEADER, b"").decode("latin-1")[:64] or str(uuid4())
        incoming = headers.get(b"traceparent", b"").decode("latin-1") or None
        status = 500
        started = time.perf_counter()

        async def observed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"],
                                      (CORRELATION_HEADER, correlation.encode("latin-1"))]
            await send(message)

        try:
            context = tracing.TraceContext(correlation_id=correlation,
                                           traceparent=tracing.request_traceparent(incoming))
            with tracing.bound(context):
                await self.app(scope, receive, observed_send)
        finally:
            route = scope.get("route")
            # The route template keeps the label set small (no ids in labels).
            path = getattr(route, "path", None) or "unmatched"
            HTTP_LATENCY.labels(self.service, scope["method"], path, str(status)).observe(
                time.perf_counter() - started)
