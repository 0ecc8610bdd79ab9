"""Idempotent POSTs (DESIGN.md §3): the same ``Idempotency-Key`` and body replay
the first response; the same key with another body is 422; a duplicate that
arrives while the first is still running is 409.

The response is stored by the use case *inside its own transaction*
(:func:`complete`), so a crash can never leave "done but not recorded": an
unfinished claim is simply taken over by the next try after ``STALE_AFTER``.
"""

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi.responses import JSONResponse
from sqlalchemy import Column, Text, delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel, col
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import SessionFactory, UTCDateTime, transaction, utcnow
from shared.http.errors import Problem

STALE_AFTER = timedelta(seconds=60)
MAX_KEY_LENGTH = 255


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_keys"

    # Keys are per caller: two clients choosing the same key never collide.
    subject: str = Field(primary_key=True, max_length=255)
    key: str = Field(primary_key=True, max_length=MAX_KEY_LENGTH)
    fingerprint: str = Field(max_length=64)
    state: str = Field(max_length=16)  # "in_progress" | "complete"
    response_status: int | None = None
    response_body: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    updated_at: datetime = Field(sa_type=UTCDateTime)


@dataclass(frozen=True)
class Claim:
    subject: str
    key: str
    replay_status: int | None = None
    replay_body: Any = None

    @property
    def is_replay(self) -> bool:
        return self.replay_status is not None


def fingerprint(payload: Any) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def claim(sessions: SessionFactory, *, subject: str, key: str, payload: Any) -> Claim:
    if not 0 < len(key) <= MAX_KEY_LENGTH:
        raise Problem(400, f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters.",
                      title="Invalid Idempotency-Key")
    digest = fingerprint(payload)
    async with transaction(sessions) as session:
        existing = await session.get(IdempotencyRecord, (subject, key))
        if existing is None:
            session.add(IdempotencyRecord(subject=subject, key=key, fingerprint=digest,
                                          state="in_progress", updated_at=utcnow()))
            try:
                await session.flush()
            except IntegrityError as exc:
                raise _in_progress() from exc
            return Claim(subject=subject, key=key)
        if existing.fingerprint != digest:
            raise Problem(422, "This Idempotency-Key was used with a different request body; "
                          "use a new key for a new request.", title="Idempotency-Key reused")
        if existing.state == "complete":
            return Claim(subject=subject, key=key, replay_status=existing.response_status,
                         replay_body=json.loads(existing.response_body or "null"))
        if utcnow() - existing.updated_at < STALE_AFTER:
            raise _in_progress()
        existing.updated_at = utcnow()  # the first try died; this one takes over
        return Claim(subject=subject, key=key)


def _in_progress() -> Problem:
    return Problem(409, "A request with this Idempotency-Key is still being processed; "
                   "retry shortly.", title="Request in progress", headers={"Retry-After": "1"})


async def complete(session: AsyncSession, claim: Claim | None, *, status: int,
                   body: Any) -> None:
    """Record the response in the use case's transaction (no-op without a claim)."""
    if claim is None:
        return
    await session.exec(update(IdempotencyRecord)  # type: ignore[call-overload]
                       .where(col(IdempotencyRecord.subject) == claim.subject,
                              col(IdempotencyRecord.key) == claim.key)
                       .values(state="complete", response_status=status,
                               response_body=json.dumps(body, default=str),
                               updated_at=utcnow()))


async def abandon(sessions: SessionFactory, claim: Claim | None) -> None:
    """The use case refused or failed: free the key so a corrected request can use it."""
    if claim is None or claim.is_replay:
        return
    async with transaction(sessions) as session:
        await session.exec(delete(IdempotencyRecord)  # type: ignore[call-overload]
                           .where(col(IdempotencyRecord.subject) == claim.subject,
                                  col(IdempotencyRecord.key) == claim.key,
                                  col(IdempotencyRecord.state) == "in_progress"))


async def run_once(sessions: SessionFactory, *, subject: str, key: str | None, payload: Any,
                   use_case: Callable[["Claim | None"], Awaitable[JSONResponse]]) -> JSONResponse:
    """Router helper: replay a stored response, or run ``use_case`` with the claim
    (which must call :func:`complete` in its transaction); frees the key on failure."""
    if key is None:
        return await use_case(None)
    held = await claim(sessions, subject=subject, key=key, payload=payload)
    if held.is_replay:
        return JSONResponse(held.replay_body, status_code=held.replay_status or 200,
                            headers={"Idempotent-Replayed": "true"})
    try:
        return await use_case(held)
    except BaseException:
        await abandon(sessions, held)
        raise
