"""Request body size limit (413) as plain ASGI middleware, so it also holds for
chunked bodies that carry no Content-Length."""

from collections.abc import Callable
from dataclasses import dataclass

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.http.errors import problem_response


class _TooLarge(Exception):
    pass


def _is_too_large(exc: BaseException) -> bool:
    # An @app.middleware("http") function below runs the app in a task group,
    # which hands the refusal up wrapped in an ExceptionGroup.
    if isinstance(exc, BaseExceptionGroup):
        return exc.subgroup(_TooLarge) is not None
    return isinstance(exc, _TooLarge)


# Evidence uploads (POST .../evidence) are files, not JSON: they get a limit of
# their own (shared.http.uploads streams them and enforces the file's limit
# exactly) and the NUL guard lets their bytes through. By path, whatever the
# method: a file sent with another method is the router's 405, not a NUL 422.
UPLOAD_PATH_SUFFIX = "/evidence"


def is_upload(scope: Scope) -> bool:
    return str(scope.get("path", "")).rstrip("/").endswith(UPLOAD_PATH_SUFFIX)


@dataclass(frozen=True)
class UploadLimit:
    """The largest body of an upload request (file + multipart envelope)."""

    max_bytes: int


class BodySizeLimit:
    """``max_bytes`` for every body (None: no limit but the uploads'), ``uploads``
    for evidence uploads; ``refusal`` answers instead of problem+json (the UI's
    HTML page)."""

    def __init__(self, app: ASGIApp, *, max_bytes: int | None,
                 uploads: UploadLimit | None = None,
                 refusal: Callable[[Scope, int], Response] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.uploads = uploads
        self.refusal = refusal

    def _limit_for(self, scope: Scope) -> int | None:
        if scope["type"] != "http":
            return None
        if self.uploads is not None and is_upload(scope):
            return self.uploads.max_bytes
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self._limit_for(scope)
        if limit is None:
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._reject(scope, receive, send, limit)
            return

        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except (_TooLarge, ExceptionGroup) as exc:
            if not _is_too_large(exc):
                raise
            if not started:
                await self._reject(scope, receive, send, limit)

    async def _reject(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        if self.refusal is not None:
            await self.refusal(scope, limit)(scope, receive, send)
            return
        # The same shape as a file over its own limit (shared.errors.TooLarge): one
        # title (RFC 9110's name for 413) and the limit as a number.
        response = problem_response(
            413, f"The request body is larger than {limit} bytes; split it up.",
            title="Content Too Large", instance=scope.get("path"), max_bytes=limit)
        await response(scope, receive, send)


class NulGuard:
    """Refuses NUL characters in the query string and in bodies (422).

    PostgreSQL text cannot hold NUL, so such input would otherwise fail deep
    in a query as a 500. A JSON body carries NUL as the escape ``\\u0000``.
    """

    _BODY_MARKERS = (b"\\u0000", b"\x00")
    # Monitoring intakes read foreign payloads with free-form labels and extra
    # fields the schema cannot constrain: one NUL in one alert must not refuse
    # a batch Alertmanager would then resend forever. The intake stores only
    # text it has cleaned (NUL becomes U+FFFD), so its bodies pass unchecked.
    FOREIGN_BODIES = ("/v1/intake/",)

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"")
        if b"%00" in query or b"\x00" in query or "\x00" in scope.get("path", ""):
            await self._reject(scope, receive, send, "the query string or path")
            return

        if scope.get("path", "").startswith(self.FOREIGN_BODIES) or is_upload(scope):
            # An upload is bytes (a PDF holds NULs); it streams to its route, whose
            # file rules take text files with NUL for binary ones.
            await self.app(scope, receive, send)
            return
        # Read the whole body first (BodySizeLimit, outside this, bounds it), so
        # the app never starts on a request it would have to abandon halfway.
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([], message, receive), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if any(marker in body.lower() for marker in self._BODY_MARKERS):
            await self._reject(scope, receive, send, "the request body")
            return
        await self.app(scope, _replay([body], None, receive), send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send, where: str) -> None:
        response = problem_response(
            422, f"NUL characters (\\u0000) are not accepted in {where}; remove them.",
            title="Invalid characters", instance=scope.get("path"))
        await response(scope, receive, send)


def _replay(bodies: list[bytes], pending: Message | None, receive: Receive) -> Receive:
    """A receive() that hands out the already-read body, then defers to the real one."""
    queue: list[Message] = [{"type": "http.request", "body": b, "more_body": False}
                            for b in bodies]
    if pending is not None:
        queue.append(pending)

    async def replay() -> Message:
        return queue.pop(0) if queue else await receive()

    return replay
