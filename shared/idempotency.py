"""Idempotent POSTs (DESIGN.md §3): the same ``Idempotency-Key`` and body replay
the first response; the same key with another body is 422; a duplicate that
arrives while the first is still running is 409 with ``Retry-After``.

The response is stored by the use case *inside its own transaction*
(:func:`complete`), so a crash can never leave "done but not recorded".

A running request holds its key on a short lease (``LEASE``) that a heartbeat
renews every ``HEARTBEAT`` while the use case runs. A request whose process
died stops renewing, so a retry takes the key over once the lease ran out (at
most ``LEASE`` later), and the 409 says when in ``Retry-After``. Each holder
writes its own token into the row; :func:`complete` records a response only
for the current holder, so a request that lost its key (stalled past its
lease while a retry took over) rolls back instead of doing the work twice.
"""

import asyncio
import contextlib
import hashlib
import json
import logging
import math
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi.responses import JSONResponse
from sqlalchemy import Column, Text, delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Field, SQLModel, col
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import SessionFactory, UTCDateTime, transaction, utcnow
from shared.errors import BadRequest, Conflict, Invalid

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=10)
HEARTBEAT = timedelta(seconds=3)  # three renewals per lease: one failed write is harmless
MAX_KEY_LENGTH = 255
# While a request holds its key, response_body carries the holder's token
# (prefixed so it can never be mistaken for a stored response).
_HOLDER = "claim:"


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_keys"

    # Keys are per caller: two clients choosing the same key never collide.
    subject: str = Field(primary_key=True, max_length=255)
    key: str = Field(primary_key=True, max_length=MAX_KEY_LENGTH)
    fingerprint: str = Field(max_length=64)
    state: str = Field(max_length=16)  # "in_progress" | "complete"
    response_status: int | None = None
    # "complete": the stored response; "in_progress": "claim:<token>" of the holder.
    response_body: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # "in_progress": when the holder last renewed its lease.
    updated_at: datetime = Field(sa_type=UTCDateTime)


@dataclass(frozen=True)
class Claim:
    subject: str
    key: str
    replay_status: int | None = None
    replay_body: Any = None
    # The holder's token (None for a replay).
    token: str | None = None

    @property
    def is_replay(self) -> bool:
        return self.replay_status is not None


def fingerprint(payload: Any) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _row(subject: str, key: str) -> tuple[ColumnElement[bool], ...]:
    return (col(IdempotencyRecord.subject) == subject, col(IdempotencyRecord.key) == key,
            col(IdempotencyRecord.state) == "in_progress")


def _held_by(claim: Claim) -> ColumnElement[bool]:
    return col(IdempotencyRecord.response_body) == _HOLDER + (claim.token or "")


async def claim(sessions: SessionFactory, *, subject: str, key: str, payload: Any) -> Claim:
    if not 0 < len(key) <= MAX_KEY_LENGTH:
        raise BadRequest(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters.",
                      title="Invalid Idempotency-Key")
    digest = fingerprint(payload)
    token = uuid.uuid4().hex
    async with transaction(sessions) as session:
        existing = await session.get(IdempotencyRecord, (subject, key))
        now = utcnow()
        if existing is None:
            session.add(IdempotencyRecord(subject=subject, key=key, fingerprint=digest,
                                          state="in_progress", response_body=_HOLDER + token,
                                          updated_at=now))
            try:
                await session.flush()
            except IntegrityError as exc:
                raise _in_progress(timedelta(0)) from exc
            return Claim(subject=subject, key=key, token=token)
        if existing.fingerprint != digest:
            raise Invalid("This Idempotency-Key was used with a different request body; "
                          "use a new key for a new request.", title="Idempotency-Key reused")
        if existing.state == "complete":
            return Claim(subject=subject, key=key, replay_status=existing.response_status,
                         replay_body=json.loads(existing.response_body or "null"))
        age = now - existing.updated_at
        if age < LEASE:
            raise _in_progress(age)
        # The holder stopped renewing (its process died): this try takes over,
        # unless another retry just did (compare-and-set on the holder's token).
        previous = existing.response_body
        holder = (col(IdempotencyRecord.response_body).is_(None) if previous is None
                  else col(IdempotencyRecord.response_body) == previous)
        taken = await session.exec(update(IdempotencyRecord)
                                   .where(*_row(subject, key), holder)
                                   .values(response_body=_HOLDER + token, updated_at=now)
                                   .execution_options(synchronize_session=False))
        if taken.rowcount != 1:
            raise _in_progress(timedelta(0))
        return Claim(subject=subject, key=key, token=token)


def _in_progress(age: timedelta) -> Conflict:
    """409 for a key whose holder renewed its lease ``age`` ago. A holder that
    keeps renewing is alive and answers soon: look again in a second. One that
    missed a beat has likely died: a retry can take over when its lease runs out."""
    alive = age <= HEARTBEAT + timedelta(seconds=1)
    seconds = 1 if alive else max(1, math.ceil((LEASE - age).total_seconds()))
    return Conflict("A request with this Idempotency-Key is still being processed; "
                   f"retry after {seconds} s (Retry-After) to get its response.",
                   title="Request in progress", headers={"Retry-After": str(seconds)})


async def complete(session: AsyncSession, claim: Claim | None, *, status: int,
                   body: Any) -> None:
    """Record the response in the use case's transaction (no-op without a claim).

    Raises a Conflict (409) (rolling the use case back) when a retry took the key
    over: that retry does the work and answers, so it is done once."""
    if claim is None:
        return
    held = (_held_by(claim),) if claim.token is not None else ()
    recorded = await session.exec(update(IdempotencyRecord)
                                  .where(*_row(claim.subject, claim.key), *held)
                                  .values(state="complete", response_status=status,
                                          response_body=json.dumps(body, default=str),
                                          updated_at=utcnow())
                                  .execution_options(synchronize_session=False))
    if recorded.rowcount != 1:
        raise Conflict("This request took too long and a retry with the same "
                      "Idempotency-Key took over; that retry's response is the one kept. "
                      "Send the request again to get it.", title="Idempotency-Key taken over",
                      headers={"Retry-After": "1"})


async def abandon(sessions: SessionFactory, claim: Claim | None) -> None:
    """The use case refused or failed: free the key so a corrected request can use it."""
    if claim is None or claim.is_replay:
        return
    held = (_held_by(claim),) if claim.token is not None else ()
    async with transaction(sessions) as session:
        await session.exec(delete(IdempotencyRecord)
                           .where(*_row(claim.subject, claim.key), *held))


async def _renew(sessions: SessionFactory, claim: Claim) -> bool:
    """Extends the lease; False once the key is no longer this claim's."""
    async with transaction(sessions) as session:
        renewed = await session.exec(update(IdempotencyRecord)
                                     .where(*_row(claim.subject, claim.key), _held_by(claim))
                                     .values(updated_at=utcnow()))
    return bool(renewed.rowcount == 1)


async def _heartbeat(sessions: SessionFactory, claim: Claim, stop: asyncio.Event) -> None:
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), HEARTBEAT.total_seconds())
            return
        try:
            if not await _renew(sessions, claim):
                return  # completed, abandoned or taken over: nothing left to hold
        except Exception:
            # A database hiccup: the lease outlasts two more beats.
            log.warning("renewing the lease of Idempotency-Key %r failed", claim.key,
                        exc_info=True)


@contextlib.asynccontextmanager
async def keep_alive(sessions: SessionFactory, claim: Claim | None) -> AsyncIterator[None]:
    """Renews the claim's lease while the block (the use case) runs."""
    if claim is None or claim.is_replay or claim.token is None:
        yield
        return
    stop = asyncio.Event()
    beat = asyncio.create_task(_heartbeat(sessions, claim, stop),
                               name=f"idempotency-heartbeat:{claim.key[:40]}")
    try:
        yield
    finally:
        stop.set()
        # A beat in flight finishes (it is one short UPDATE); one stuck on the
        # database is not worth holding up the response for.
        done, _ = await asyncio.wait({beat}, timeout=HEARTBEAT.total_seconds())
        if not done:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat


async def run_once(sessions: SessionFactory, *, subject: str, key: str | None, payload: Any,
                   use_case: Callable[["Claim | None"], Awaitable[JSONResponse]]) -> JSONResponse:
    """Router helper: replay a stored response, or run ``use_case`` with the claim
    (which must call :func:`complete` in its transaction) under a renewed lease;
    frees the key on failure."""
    if key is None:
        return await use_case(None)
    held = await claim(sessions, subject=subject, key=key, payload=payload)
    if held.is_replay:
        return JSONResponse(held.replay_body, status_code=held.replay_status or 200,
                            headers={"Idempotent-Replayed": "true"})
    try:
        async with keep_alive(sessions, held):
            return await use_case(held)
    except BaseException:
        await abandon(sessions, held)
        raise
