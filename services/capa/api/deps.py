"""Dependency aliases the routers share, and the Idempotency-Key wrapper."""

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from shared.auth import Principal
from shared.db import SessionFactory, utcnow
from shared.http.auth import authenticate, require_roles
from shared.http.concurrency import etag
from shared.idempotency import Claim, abandon, claim, keep_alive

from ..service import opening_policy
from ..service.opening import OpeningPolicy
from ..settings import CapaSettings


def _sessions(request: Request) -> SessionFactory:
    sessions: SessionFactory = request.app.state.runtime.sessions
    return sessions


def _policy(request: Request) -> OpeningPolicy:
    settings: CapaSettings = request.app.state.settings
    return opening_policy(settings)


def _now() -> datetime:
    """The clock of a request; tests override it to move time."""
    return utcnow()


SessionsDep = Annotated[SessionFactory, Depends(_sessions)]
PolicyDep = Annotated[OpeningPolicy, Depends(_policy)]
NowDep = Annotated[datetime, Depends(_now)]
clock = _now

# Reads need any valid key; writes name their roles.
Reader = Annotated[Principal, Depends(authenticate)]
Engineer = Annotated[Principal, Depends(require_roles("engineer", "manager"))]
WorkflowActor = Annotated[Principal, Depends(require_roles("engineer", "verifier",
                                                           "manager"))]
Planner = Annotated[Principal, Depends(require_roles("engineer", "verifier", "manager"))]
Verifier = Annotated[Principal, Depends(require_roles("verifier", "manager"))]


def with_etag(model: BaseModel, version: int, *, status_code: int = 200,
              location: str | None = None) -> JSONResponse:
    headers = {"ETag": etag(version)}
    if location:
        headers["Location"] = location
    return JSONResponse(model.model_dump(mode="json"), status_code=status_code,
                        headers=headers)


async def idempotent_create(request: Request, sessions: SessionFactory, principal: Principal,
                            payload: BaseModel,
                            create: Callable[[Claim | None], Awaitable[Any]]
                            ) -> tuple[Any, JSONResponse | None]:
    """Run ``create`` under the request's Idempotency-Key, if it sent one.

    Returns (result, None), or (None, the replayed first response).
    """
    key = request.headers.get("idempotency-key")
    taken = None
    if key is not None:
        taken = await claim(sessions, subject=principal.subject, key=key,
                            payload={"path": request.url.path,
                                     "body": payload.model_dump(mode="json")})
        if taken.is_replay:
            return None, JSONResponse(taken.replay_body, status_code=taken.replay_status or 200,
                                      headers={"Idempotent-Replayed": "true"})
    try:
        async with keep_alive(sessions, taken):
            return await create(taken), None
    except BaseException:
        await abandon(sessions, taken)
        raise
