"""The one way the UI talks to CAPAflow: the services' public HTTP APIs.

Every call carries the signed-in person's own API key, so the services make the
authorization decisions; the UI only hides buttons a person may not use.
"""

import logging
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from shared import tracing

from .settings import WebSettings

log = logging.getLogger(__name__)

ServiceName = Literal["nonconformity", "capa", "notifications"]


@dataclass
class ApiError(Exception):
    """A problem+json answer (or an unreachable service, status 503)."""

    status: int
    detail: str
    errors: list[dict[str, Any]] = field(default_factory=list)
    title: str = ""
    # The problem's type URI, for refusals a page words itself (e.g. a period
    # that does not run forward); "" when the service sent none.
    type: str = ""

    def __str__(self) -> str:
        return self.detail or self.title or f"HTTP {self.status}"

    def field_errors(self) -> dict[str, str]:
        """Field -> message, keyed by the last part of the field path ("body.why.0" -> "0")."""
        out: dict[str, str] = {}
        for error in self.errors:
            path = str(error.get("field", ""))
            name = path.removeprefix("body.") if path.startswith("body.") else path
            out.setdefault(name, str(error.get("message", "")))
        return out


@dataclass
class ApiResponse:
    status: int
    body: Any
    headers: httpx.Headers

    @property
    def etag(self) -> str | None:
        etag: str | None = self.headers.get("etag")
        return etag


class ApiClient:
    """Shared connection pool; `as_user(key)` gives a client acting as one person."""

    def __init__(self, settings: WebSettings, transport: httpx.AsyncBaseTransport | None = None):
        self._bases: dict[str, str] = {
            "nonconformity": settings.nonconformity_url.rstrip("/"),
            "capa": settings.capa_url.rstrip("/"),
            "notifications": settings.notifications_url.rstrip("/"),
        }
        self._http = httpx.AsyncClient(timeout=settings.api_timeout_seconds, transport=transport)
        tracing.instrument_client(self._http)  # client spans when an exporter is configured

    async def aclose(self) -> None:
        await self._http.aclose()

    def as_user(self, key: str) -> "UserApi":
        return UserApi(self, key)

    def as_link(self, token: str) -> "LinkApi":
        return LinkApi(self, token)

    async def request(self, service: ServiceName, method: str, path: str, *, key: str,
                      params: dict[str, Any] | None = None, json: Any = None,
                      headers: dict[str, str] | None = None, files: Any = None,
                      raw: bool = False, scheme: str = "Bearer") -> ApiResponse:
        """``files``: a multipart upload instead of JSON; ``raw``: a success's body is
        the bytes as they came (a download), not decoded JSON; ``scheme``: "SCAR" for
        a supplier's response link (``key`` is then the link's token)."""
        sent = {"Authorization": f"{scheme} {key}", **_trace_headers(), **(headers or {})}
        clean = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        try:
            response = await self._http.request(method, self._bases[service] + path,
                                                params=clean, json=json, files=files,
                                                headers=sent)
        except httpx.HTTPError as exc:
            # The exception's class (ConnectError, ReadTimeout) is for the log; people
            # get what they can do about it.
            log.warning("%s service unreachable: %s %s: %s: %s", service, method, path,
                        type(exc).__name__, exc)
            raise ApiError(503, f"The {service} service cannot be reached; "
                                "try again in a moment.") from exc
        if raw and response.status_code < 400:
            return ApiResponse(response.status_code, response.content, response.headers)
        body: Any = None
        if response.content:
            try:
                body = response.json()
            except ValueError:
                body = response.text
        if response.status_code >= 400:
            problem = body if isinstance(body, dict) else {}
            detail = problem.get("detail") or problem.get("title") or response.reason_phrase
            raise ApiError(response.status_code, str(detail), list(problem.get("errors") or []),
                           str(problem.get("title") or ""), str(problem.get("type") or ""))
        return ApiResponse(response.status_code, body, response.headers)


def _trace_headers() -> dict[str, str]:
    """The page request's correlation id and trace, so a service's request and
    the events it records belong to the person's click (the instrumented
    client replaces the traceparent with its own span's)."""
    context = tracing.current()
    headers = {}
    if context.correlation_id:
        headers["X-Correlation-ID"] = context.correlation_id
    if context.traceparent:
        headers["traceparent"] = context.traceparent
    return headers


class UserApi:
    def __init__(self, client: ApiClient, key: str) -> None:
        self._client = client
        self._key = key

    async def get(self, service: ServiceName, path: str, **params: Any) -> Any:
        return (await self._client.request(service, "GET", path, key=self._key, params=params)).body

    async def get_with_etag(self, service: ServiceName, path: str) -> ApiResponse:
        return await self._client.request(service, "GET", path, key=self._key)

    async def send(self, service: ServiceName, method: str, path: str, json: Any = None, *,
                   if_match: str | None = None, idempotency_key: str | None = None) -> ApiResponse:
        headers: dict[str, str] = {}
        if if_match:
            headers["If-Match"] = if_match
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        return await self._client.request(service, method, path, key=self._key, json=json,
                                          headers=headers)

    async def upload(self, service: ServiceName, path: str, *, filename: str, content: bytes,
                     content_type: str | None) -> ApiResponse:
        """An evidence file, sent on as the person's browser gave it (the service checks it)."""
        part = (filename, content, content_type or "application/octet-stream")
        return await self._client.request(service, "POST", path, key=self._key,
                                          files={"file": part})

    async def download(self, service: ServiceName, path: str, **params: Any) -> ApiResponse:
        """A file's bytes and the service's headers (type, disposition, ETag);
        ``params``: the query (a query string in ``path`` would be dropped)."""
        return await self._client.request(service, "GET", path, key=self._key, raw=True,
                                          params=params)


class LinkApi:
    """The CAPA service's supplier endpoints, with a SCAR's response link as the
    credential (``Authorization: SCAR <token>``): the public response form."""

    def __init__(self, client: ApiClient, token: str) -> None:
        self._client = client
        self._token = token

    async def send(self, method: str, path: str, json: Any = None) -> ApiResponse:
        return await self._client.request("capa", method, path, key=self._token, json=json,
                                          scheme="SCAR")

    async def upload(self, path: str, *, filename: str, content: bytes,
                     content_type: str | None) -> ApiResponse:
        part = (filename, content, content_type or "application/octet-stream")
        return await self._client.request("capa", "POST", path, key=self._token,
                                          files={"file": part}, scheme="SCAR")

    async def download(self, path: str) -> ApiResponse:
        return await self._client.request("capa", "GET", path, key=self._token, raw=True,
                                          scheme="SCAR")
