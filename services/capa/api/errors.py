"""Use-case and workflow refusals as problem+json answers."""

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

from shared.http.errors import problem_response

from ..domain.workflow import GuardFailed, RoleRequired, TransitionNotAllowed, WorkflowError
from ..service.errors import (
    BadRequest,
    Conflict,
    Invalid,
    NotFound,
    NotPermitted,
    UseCaseError,
)

log = logging.getLogger(__name__)

_STATUS: list[tuple[type[UseCaseError], int, str]] = [
    (NotFound, 404, "Not found"),
    (Conflict, 409, "Conflict"),
    (NotPermitted, 403, "Forbidden"),
    (Invalid, 422, "Validation failed"),
    (BadRequest, 400, "Bad request"),
]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(UseCaseError)
    async def _use_case(request: Request, exc: UseCaseError) -> JSONResponse:
        status, title = next(((s, t) for kind, s, t in _STATUS if isinstance(exc, kind)),
                             (400, "Bad request"))
        return problem_response(status, exc.detail, title=title, instance=request.url.path,
                                **exc.extensions)

    @app.exception_handler(WorkflowError)
    async def _workflow(request: Request, exc: WorkflowError) -> JSONResponse:
        if isinstance(exc, TransitionNotAllowed):
            return problem_response(409, str(exc), title="Transition not allowed",
                                    instance=request.url.path, current_status=exc.current.value,
                                    allowed=exc.allowed)
        if isinstance(exc, RoleRequired):
            return problem_response(403, str(exc), title="Forbidden",
                                    instance=request.url.path, required_roles=exc.roles)
        title = "Precondition not met" if isinstance(exc, GuardFailed) else "Conflict"
        return problem_response(409, str(exc), title=title, instance=request.url.path)

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        # Two requests raced on the same row (e.g. the same NC); the loser retries.
        log.info("integrity conflict on %s: %s", request.url.path, exc.orig)
        return problem_response(409, "Another request changed this at the same time; "
                                "reload and try again.", title="Concurrent change",
                                instance=request.url.path, headers={"Retry-After": "1"})
