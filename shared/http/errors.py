"""RFC 9457 problem+json responses for every error a service returns."""

import logging
from collections.abc import Iterable, Iterator
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match

from shared.db import is_aborted_by_conflict, is_unavailable
from shared.errors import UseCaseError
from shared.outbox import EventTooLarge

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class ProblemDocument(BaseModel):
    """RFC 9457 problem details; validation errors add ``errors`` (field, message)."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None


PROBLEM_CONTENT = {PROBLEM_JSON: {"schema": ProblemDocument.model_json_schema(
    ref_template="#/components/schemas/{model}")}}

# Documented on every route, so clients (and schema checkers) know every
# error is a problem document.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": HTTPStatus(status).phrase, "content": PROBLEM_CONTENT}
    for status in (400, 401, 403, 404, 409, 412, 413, 422, 428, 503)
}


class Problem(Exception):
    """Raised by the HTTP edge only (authentication, headers); use cases raise
    shared.errors instead, mapped below."""

    def __init__(self, status: int, detail: str, *, title: str | None = None,
                 type_: str = "about:blank", headers: dict[str, str] | None = None,
                 **extensions: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.type = type_
        self.headers = headers
        self.extensions = extensions


def problem_response(status: int, detail: str, *, title: str | None = None,
                     type_: str = "about:blank", instance: str | None = None,
                     headers: dict[str, str] | None = None, **extensions: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": type_, "title": title or HTTPStatus(status).phrase,
                            "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    body.update(extensions)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def allowed_methods(routes: list[BaseRoute], request: Request) -> list[str]:
    """Every method some route serves at the request's path (RFC 9110 §15.5.6).

    Starlette's own 405 names only the methods of the first route whose path
    matched, so a path served by two routes (GET and POST on a collection)
    would advertise half of what it allows.
    """
    methods: set[str] = set()
    for route in _leaves(routes):
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


def _leaves(routes: Iterable[BaseRoute]) -> Iterator[BaseRoute]:
    """The routes themselves: FastAPI keeps an included router as one entry
    (``original_router``); the services include theirs without a prefix, so
    the inner routes' own paths are the paths served."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _leaves(inner.routes)
        else:
            yield route


def _missing_if_match(error: Any) -> bool:
    # A required If-Match (shared.http.concurrency.IfMatch) left out: RFC 6585's
    # 428, as the use cases answer when they check the precondition themselves.
    loc = tuple(error.get("loc", ()))
    return (error.get("type") == "missing" and len(loc) == 2 and loc[0] == "header"
            and str(loc[1]).lower() == "if-match")


async def _problem(request: Request, exc: Problem) -> JSONResponse:
    return problem_response(exc.status, exc.detail, title=exc.title, type_=exc.type,
                            instance=request.url.path, headers=exc.headers,
                            **exc.extensions)


async def _use_case(request: Request, exc: UseCaseError) -> JSONResponse:
    return problem_response(exc.status, exc.detail, title=exc.title, type_=exc.type_uri,
                            instance=request.url.path, headers=exc.headers,
                            **exc.extensions)


async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
    # Two requests raced on the same row (e.g. the same NC); the loser retries.
    log.info("integrity conflict on %s: %s", request.url.path, exc.orig)
    return problem_response(409, "Another request changed this at the same time; "
                            "reload and try again.", title="Concurrent change",
                            instance=request.url.path, headers={"Retry-After": "1"})


async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    if all(_missing_if_match(e) for e in exc.errors()) and exc.errors():
        return problem_response(428, "Send the ETag you last read in an If-Match header.",
                                title="Precondition Required", instance=request.url.path)
    errors = [{"field": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg"),
               "type": e.get("type")} for e in exc.errors()]
    return problem_response(422, "The request is not valid; see errors for each field.",
                            title="Validation failed", instance=request.url.path,
                            errors=errors)


async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request.app.router.routes, request))
    return problem_response(exc.status_code, str(exc.detail), instance=request.url.path,
                            headers=headers or None)


async def _event_too_large(request: Request, exc: EventTooLarge) -> JSONResponse:
    # The request was within the body limit, but what it asks to record
    # would not fit in one event: nothing was written (rolled back).
    return problem_response(422, f"The change cannot be recorded: {exc}. Shorten the "
                            "longest text fields and send it again.",
                            title="Event too large", instance=request.url.path,
                            event_type=exc.event_type, event_bytes=exc.size,
                            max_event_bytes=exc.limit)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    if is_unavailable(exc):
        # Nothing was written (the transaction never committed): the client
        # can safely retry, with the same Idempotency-Key if it used one.
        log.warning("database unavailable on %s %s: %s", request.method,
                    request.url.path, exc)
        return problem_response(503, "The service cannot reach its database right now; "
                                "retry after the given delay.",
                                title="Temporarily unavailable",
                                instance=request.url.path, headers={"Retry-After": "5"})
    if is_aborted_by_conflict(exc):
        # A deadlock victim (its retries, where a use case has them, used up):
        # nothing was written and the same request normally succeeds at once.
        log.warning("transaction aborted by a conflict on %s %s: %s", request.method,
                    request.url.path, exc)
        return problem_response(503, "The change collided with a concurrent one and was "
                                "not recorded; send it again.", title="Temporarily unavailable",
                                instance=request.url.path, headers={"Retry-After": "1"})
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(500, "An unexpected error occurred; it has been logged.",
                            instance=request.url.path)


_HANDLERS: tuple[tuple[type[Exception], Any], ...] = (
    (Problem, _problem),
    (UseCaseError, _use_case),
    (IntegrityError, _integrity),
    (RequestValidationError, _validation),
    (StarletteHTTPException, _http),
    (EventTooLarge, _event_too_large),
    (Exception, _unexpected),
)


def install_problem_handlers(app: FastAPI) -> None:
    """Every error a service can meet, answered as problem+json: the one place
    where refusals (shared.errors) become statuses."""
    for kind, handler in _HANDLERS:
        app.exception_handler(kind)(handler)
