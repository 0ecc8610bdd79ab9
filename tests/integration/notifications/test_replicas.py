"""Delivery workers at N replicas on one PostgreSQL database: claims, order, digests, lease.

Each "replica" here is a DeliveryWorker with its own engine, session factory
and worker id, as two processes would have.
"""

import asyncio
import json
import logging
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from services.notifications.domain import AttemptResult, Outcome
from services.notifications.models import Delivery, ReceivedEvent, Subscription
from services.notifications.service.attempts import record
from services.notifications.service.claims import claim
from services.notifications.service.delivery import DeliveryWorker
from services.notifications.service.digests import run_digests
from services.notifications.service.matching import EventMatcher
from services.notifications.service.subscriptions import new_secret
from services.notifications.settings import NotificationsSettings
from shared.db import SessionFactory, create_engine, session_factory, transaction, utcnow
from shared.inbox import consumed as as_consumed
from shared.lease import lease
from tests.conftest import DatabaseFactory, _asyncpg_dsn, eventually, migrate
from tests.integration.notifications.conftest import (
    NOTIFICATIONS_MIGRATIONS,
    Receiver,
    capa_opened,
    fast_settings,
    match,
)

MINUTE = timedelta(minutes=1)


@dataclass
class Database:
    url: str
    engines: list[AsyncEngine]

    def sessions(self) -> SessionFactory:
        """A session factory on an engine of its own: one per simulated process."""
        engine = create_engine(self.url, pool_size=5)
        self.engines.append(engine)
        return session_factory(engine)


@pytest.fixture
async def postgres(new_postgres_database: DatabaseFactory) -> AsyncIterator[Database]:
    url = await new_postgres_database()
    await migrate(NOTIFICATIONS_MIGRATIONS, url)
    db = Database(url, [])
    yield db
    for engine in db.engines:
        await engine.dispose()


def _settings(url: str, **overrides: Any) -> NotificationsSettings:
    return NotificationsSettings(database_url=url, **fast_settings(**overrides))


async def _subscribe(sessions: SessionFactory, target: str, **fields: Any) -> uuid.UUID:
    now = utcnow()
    sub = Subscription(owner="test", channel="webhook", target=target, secret=new_secret(),
                       created_at=now, updated_at=now, **fields)
    async with transaction(sessions) as session:
        session.add(sub)
    return sub.id


async def _deliveries(sessions: SessionFactory) -> list[Delivery]:
    async with sessions() as session:
        return list((await session.exec(select(Delivery))).all())


@pytest.fixture
def worker_warnings(caplog: pytest.LogCaptureFixture) -> Callable[[], list[str]]:
    caplog.set_level(logging.WARNING, logger="services.notifications")

    def warnings() -> list[str]:
        return [f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records
                if r.name.startswith("services.notifications") and r.levelno >= logging.WARNING]

    return warnings


async def test_two_workers_send_every_delivery_once_in_order_per_subject(
        postgres: Database, receiver: Receiver,
        worker_warnings: Callable[[], list[str]]) -> None:
    # Few slots, so claims wait for free ones and queues run drains back to back.
    settings = _settings(postgres.url, delivery_concurrency=8)
    setup = postgres.sessions()
    paths = [f"/replica/{i}" for i in range(3)]
    for path in paths:
        await _subscribe(setup, receiver.url(path))
    sends = Counter[int]()

    def client(i: int) -> httpx.AsyncClient:
        async def count(_: httpx.Request) -> None:
            sends[i] += 1
        return httpx.AsyncClient(trust_env=False, event_hooks={"request": [count]})

    replicas = [postgres.sessions() for _ in range(2)]
    workers = [DeliveryWorker(sessions=replicas[i], settings=settings,
                              client=client(i), worker_id=f"replica-{i}") for i in range(2)]
    matchers = [EventMatcher() for _ in range(2)]  # each its own filter cache
    stop = asyncio.Event()
    tasks = [asyncio.create_task(w.run(stop)) for w in workers]
    capas = [uuid.uuid4() for _ in range(40)]
    sent: dict[str, list[str]] = defaultdict(list)  # subject -> event ids in order
    try:
        for round_ in range(3):
            for n, capa_id in enumerate(capas):
                event_ = capa_opened(capa_id, title=f"round {round_}")
                sent[str(capa_id)].append(event_.get_id())
                # Each replica's consumer matches on its own engine, so its commit
                # announces what it queued to its own worker only.
                async with transaction(replicas[n % 2]) as session:
                    await matchers[n % 2](session, as_consumed(event_))
        total = len(paths) * len(capas) * 3

        async def all_delivered() -> bool:
            rows = await _deliveries(setup)
            return len(rows) == total and all(d.status == "delivered" for d in rows)

        await eventually(all_delivered, timeout=60, message=f"{total} deliveries delivered")
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    assert sends[0] > 0 and sends[1] > 0, sends  # both replicas took part
    ids = Counter(r.headers["webhook-id"] for r in receiver.received)
    assert len(ids) == total and set(ids.values()) == {1}, ids.most_common(3)
    for path in paths:
        by_subject: dict[str, list[str]] = defaultdict(list)
        for request in receiver.at(path):
            body = request.json()
            by_subject[body["subject"]].append(body["id"])
        assert by_subject == sent, f"order per subject at {path}"
    rows = await _deliveries(setup)
    assert all(d.claimed_by is None and d.attempts == 1 for d in rows)
    assert worker_warnings() == []  # no deadlock, no failed dispatch or recording


async def test_a_dead_workers_claim_holds_its_queue_until_it_expires(
        postgres: Database, receiver: Receiver) -> None:
    sessions = postgres.sessions()
    await _subscribe(sessions, receiver.url("/claimed"))
    capa_id = uuid.uuid4()
    [first] = await match(sessions, capa_opened(capa_id, title="first"))
    [second] = await match(sessions, capa_opened(capa_id, title="second"))
    # A replica claimed the head and died mid-attempt.
    async with transaction(sessions) as session:
        await session.exec(update(Delivery).where(  # type: ignore[call-overload]
            col(Delivery.id) == first).values(claimed_by="dead:1:0", claim_expires_at=(
                utcnow() + MINUTE)))
    worker = DeliveryWorker(sessions=sessions, settings=_settings(postgres.url),
                            worker_id="live")
    try:
        # Neither the claimed head nor the delivery queued behind it may start.
        assert await worker.dispatch_due() == 0
        assert await worker.dispatch_due([first, second]) == 0
        async with transaction(sessions) as session:
            await session.exec(update(Delivery).where(  # type: ignore[call-overload]
                col(Delivery.id) == first).values(claim_expires_at=utcnow() - MINUTE))
        assert await worker.dispatch_due() == 1

        async def both_delivered() -> bool:
            return all(d.status == "delivered" for d in await _deliveries(sessions))

        await eventually(both_delivered, timeout=15, message="the queue after the expiry")
    finally:
        await worker.aclose()
    assert [r.headers["webhook-id"] for r in receiver.at("/claimed")] == [str(first),
                                                                         str(second)]


async def test_a_late_result_after_a_takeover_does_not_overwrite(postgres: Database) -> None:
    sessions = postgres.sessions()
    settings = _settings(postgres.url)
    await _subscribe(sessions, "http://127.0.0.1:9/hook")
    queued = await match(sessions, capa_opened())

    async def claim_as(worker: str) -> list[Any]:
        async with transaction(sessions) as session:
            return await claim(session, worker=worker, lease=MINUTE, limit=5, ids=queued)

    async def record_as(worker: str, due: Any, result: AttemptResult) -> bool:
        async with transaction(sessions) as session:
            return await record(session, due, result, started=utcnow(), settings=settings,
                                worker=worker)

    [(slow_due, _)] = await claim_as("slow")
    assert await claim_as("other") == []  # held
    async with transaction(sessions) as session:  # the slow worker's claim runs out
        await session.exec(update(Delivery).values(  # type: ignore[call-overload]
            claim_expires_at=utcnow() - MINUTE))
    [(taken_due, _)] = await claim_as("other")
    assert await record_as("slow", slow_due, AttemptResult(Outcome.failed, 400, "HTTP 400")) \
        is False
    assert await record_as("other", taken_due, AttemptResult(Outcome.delivered, 204)) is True
    # And after the takeover was recorded, still nothing from the slow one.
    assert await record_as("slow", slow_due, AttemptResult(Outcome.failed, 400, "HTTP 400")) \
        is False
    [stored] = await _deliveries(sessions)
    assert (stored.status, stored.attempts, stored.last_status_code, stored.claimed_by) == (
        "delivered", 1, 204, None)


async def test_concurrent_digest_runs_queue_each_digest_once(postgres: Database) -> None:
    setup = postgres.sessions()
    subs = [await _subscribe(setup, f"http://127.0.0.1:9/d/{i}", mode="daily")
            for i in range(30)]
    now = utcnow()
    opened = capa_opened()
    async with transaction(setup) as session:  # an open CAPA: every digest has content
        session.add(ReceivedEvent(event_id=opened.get_id(), event_type=opened.get_type(),
                                  envelope=json.dumps({"type": opened.get_type(), "data": {
                                      "capa_id": str(uuid.uuid4()), "title": "Leak"}}),
                                  received_at=now - timedelta(days=1)))
    tomorrow = now + timedelta(days=1)
    runs = [postgres.sessions() for _ in range(3)]
    queued = await asyncio.gather(*(run_digests(s, now=tomorrow) for s in runs))
    assert sum(queued) == len(subs)
    rows = await _deliveries(setup)
    assert sorted(d.subscription_id for d in rows) == sorted(subs)
    assert await run_digests(runs[0], now=tomorrow) == 0


async def _lock_holders(url: str) -> list[int]:
    conn = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        return [r["pid"] for r in await conn.fetch(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")]
    finally:
        await conn.close()


async def test_a_lease_has_one_holder_and_dies_with_its_connection(postgres: Database) -> None:
    first, second = (postgres.sessions().kw["bind"] for _ in range(2))
    async with lease(first, "job") as held:
        assert held
        async with lease(second, "job") as also:
            assert not also
        async with lease(second, "another job") as other:
            assert other  # leases are per name
    async with lease(second, "job") as held:
        assert held  # released at the end of the block

    # A holder that dies: its server session ends and the lock goes with it.
    got_it, dead = asyncio.Event(), asyncio.Event()

    async def holder() -> None:
        async with lease(first, "job") as held:
            assert held
            got_it.set()
            await dead.wait()

    task = asyncio.create_task(holder())
    await asyncio.wait_for(got_it.wait(), 10)
    [pid] = await _lock_holders(postgres.url)
    conn = await asyncpg.connect(_asyncpg_dsn(postgres.url))
    try:
        await conn.execute("SELECT pg_terminate_backend($1)", pid)
    finally:
        await conn.close()

    async def free() -> bool:
        async with lease(second, "job") as held:
            return held

    await eventually(free, timeout=10, message="the lease free after its holder died")
    dead.set()
    await task  # unlocking a dead connection is logged, not raised


async def test_a_lease_always_holds_on_sqlite(new_sqlite_database: DatabaseFactory) -> None:
    engine = create_engine(await new_sqlite_database())
    try:
        async with lease(engine, "job") as one, lease(engine, "job") as two:
            assert one and two
    finally:
        await engine.dispose()



async def test_a_stopping_worker_finishes_its_attempts_and_gives_its_claims_back(
        postgres: Database, receiver: Receiver) -> None:
    """A rolling update or node drain stops a worker gracefully: the attempt in
    flight ends on its own (it is not cut and sent again by another replica), and
    claims it holds but has not started are free at once, not after the lease."""
    sessions = postgres.sessions()
    await _subscribe(sessions, receiver.url("/slow"))
    # Slower than the fixed 5 s a stopping worker used to grant, within the deadline.
    receiver.delay["/slow"] = 6.0
    [in_flight] = await match(sessions, capa_opened(uuid.uuid4()))
    # A claim this worker took but never started (say, a hand-off while stopping).
    [held] = await match(sessions, capa_opened(uuid.uuid4()))
    settings = _settings(postgres.url, delivery_deadline=10.0, delivery_timeout=10.0)
    worker = DeliveryWorker(sessions=sessions, settings=settings, worker_id="stopping")
    async with transaction(sessions) as session:
        await session.exec(update(Delivery).where(  # type: ignore[call-overload]
            col(Delivery.id) == held).values(claimed_by="stopping",
                                             claim_expires_at=utcnow() + MINUTE))
    assert await worker.dispatch_due([in_flight]) == 1

    async def attempt_started() -> bool:
        return bool(receiver.at("/slow")) or worker.in_progress > 0
    await eventually(attempt_started, timeout=10, message="the attempt under way")
    await worker.aclose()
    rows = {d.id: d for d in await _deliveries(sessions)}
    assert rows[in_flight].status == "delivered" and rows[in_flight].claimed_by is None
    assert rows[held].status == "pending"
    assert rows[held].claimed_by is None and rows[held].claim_expires_at is None
    assert [r.headers["webhook-id"] for r in receiver.at("/slow")] == [str(in_flight)]
