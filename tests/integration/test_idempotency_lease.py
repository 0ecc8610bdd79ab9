"""Idempotency-Key claims are leases: renewed while the request runs, taken over
by a retry soon after the process holding one died (not a minute later), and
a 409 says in Retry-After when to come back. On SQLite and PostgreSQL."""

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from fastapi.responses import JSONResponse
from sqlalchemy import update
from sqlmodel import col

from shared import idempotency
from shared.db import SessionFactory, create_engine, session_factory, transaction, utcnow
from shared.errors import Conflict
from shared.idempotency import Claim, IdempotencyRecord
from tests.conftest import DatabaseFactory, eventually

PAYLOAD = {"title": "Seal leak", "severity": "major"}


@pytest.fixture(params=["sqlite", "postgres"])
async def sessions(request: pytest.FixtureRequest, new_sqlite_database: DatabaseFactory,
                   new_postgres_database: DatabaseFactory) -> AsyncIterator[SessionFactory]:
    url = await (new_sqlite_database if request.param == "sqlite" else new_postgres_database)()
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(IdempotencyRecord.metadata.create_all,
                            tables=[IdempotencyRecord.__table__])  # type: ignore[attr-defined]
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


async def _claim(sessions: SessionFactory, key: str = "k-1") -> Claim:
    return await idempotency.claim(sessions, subject="ann", key=key, payload=PAYLOAD)


async def _refused(sessions: SessionFactory, key: str = "k-1") -> Conflict:
    with pytest.raises(Conflict) as refused:
        await _claim(sessions, key)
    assert refused.value.status == 409
    return refused.value


async def _renewed_at(sessions: SessionFactory, key: str = "k-1") -> object:
    async with sessions() as session:
        row = await session.get(IdempotencyRecord, ("ann", key))
        assert row is not None
        return row.updated_at


async def _age(sessions: SessionFactory, seconds: float, key: str = "k-1") -> None:
    """As if the holder last renewed ``seconds`` ago (no waiting)."""
    async with transaction(sessions) as session:
        await session.exec(update(IdempotencyRecord)  # type: ignore[call-overload]
                           .where(col(IdempotencyRecord.key) == key)
                           .values(updated_at=utcnow() - timedelta(seconds=seconds)))


async def _complete(sessions: SessionFactory, claim: Claim, body: dict[str, str]) -> None:
    async with transaction(sessions) as session:
        await idempotency.complete(session, claim, status=201, body=body)


async def test_a_dead_holders_key_is_taken_over_after_the_lease_with_retry_after(
        sessions: SessionFactory) -> None:
    await _claim(sessions)  # then its process is killed: nothing renews or completes it
    # A live holder (renewed within a beat): come back in a second.
    assert (await _refused(sessions)).headers == {"Retry-After": "1"}
    # It missed beats: Retry-After is when its lease runs out.
    await _age(sessions, 6)
    late = await _refused(sessions)
    assert late.headers is not None
    lease = idempotency.LEASE.total_seconds()
    assert 1 <= int(late.headers["Retry-After"]) <= lease - 6 + 1
    await _age(sessions, lease + 0.5)
    retry = await _claim(sessions)
    assert not retry.is_replay
    await _complete(sessions, retry, {"id": "nc-1"})
    replay = await _claim(sessions)
    assert (replay.replay_status, replay.replay_body) == (201, {"id": "nc-1"})


async def test_the_holder_that_lost_its_key_cannot_record_a_second_result(
        sessions: SessionFactory) -> None:
    stalled = await _claim(sessions)
    await _age(sessions, idempotency.LEASE.total_seconds() + 1)
    retry = await _claim(sessions)
    # Only the retry's result counts; the stalled one is refused (and rolls back).
    with pytest.raises(Conflict) as lost:
        await _complete(sessions, stalled, {"id": "nc-stalled"})
    assert lost.value.status == 409
    await idempotency.abandon(sessions, stalled)  # must not free the retry's key
    await _refused(sessions)
    await _complete(sessions, retry, {"id": "nc-retry"})
    assert (await _claim(sessions)).replay_body == {"id": "nc-retry"}


async def test_two_retries_racing_for_an_expired_key_get_it_once(
        sessions: SessionFactory) -> None:
    await _claim(sessions)
    await _age(sessions, idempotency.LEASE.total_seconds() + 1)
    results = await asyncio.gather(_claim(sessions), _claim(sessions), return_exceptions=True)
    taken = [r for r in results if isinstance(r, Claim)]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(taken) == 1 and len(refused) == 1, results
    assert refused[0].status == 409


async def test_a_running_request_renews_its_lease_and_frees_the_key_when_it_fails(
        sessions: SessionFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(idempotency, "HEARTBEAT", timedelta(seconds=0.05))
    started, finish = asyncio.Event(), asyncio.Event()

    async def slow_use_case(claim: Claim | None) -> JSONResponse:
        started.set()
        await finish.wait()
        raise RuntimeError("the use case failed")

    running = asyncio.create_task(idempotency.run_once(
        sessions, subject="ann", key="k-1", payload=PAYLOAD, use_case=slow_use_case))
    await asyncio.wait_for(started.wait(), 10)
    first = await _renewed_at(sessions)

    async def renewed() -> bool:
        return await _renewed_at(sessions) != first
    await eventually(renewed, timeout=10, message="the lease renewed by the heartbeat")
    await _refused(sessions)

    finish.set()
    with pytest.raises(RuntimeError):
        await running
    # Freed: a corrected request may use the key at once.
    assert not (await _claim(sessions)).is_replay
