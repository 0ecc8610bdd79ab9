"""The cheap path: wake-ups instead of polling, cached filters, few statements.

The poll interval is set far above the deadlines here, so only the matcher's
wake-up can deliver in time; the filter cache must follow every subscription
write, from this process or another one sharing the database.
"""

import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, update
from sqlmodel import col, select

from services.notifications.domain import AttemptResult, Outcome
from services.notifications.models import Delivery, Subscription
from services.notifications.service.attempts import Due, record
from services.notifications.service.claims import claim
from services.notifications.service.delivery import DeliveryWorker
from services.notifications.service.matching import EventMatcher
from services.notifications.service.subscriptions import new_secret
from services.notifications.settings import NotificationsSettings
from shared.db import create_engine, session_factory, transaction, utcnow
from shared.events.catalog import CAPA_TOPIC, NONCONFORMITY_TOPIC
from shared.inbox import consumed as as_consumed
from shared.outbox import OutboxMessage
from tests.conftest import BUS_MIGRATIONS, DatabaseFactory, eventually, migrate
from tests.integration.notifications.conftest import (
    NOTIFICATIONS_MIGRATIONS,
    Harness,
    Receiver,
    capa_opened,
    fast_settings,
    harness,
    match,
    nc_reported,
)

POLL = 30.0  # the fallback poll; every deadline below is far shorter
DEADLINE = 8.0


@pytest.fixture
async def databases(new_sqlite_database: DatabaseFactory) -> tuple[str, str]:
    url, bus_url = await new_sqlite_database(), await new_sqlite_database()
    await migrate(NOTIFICATIONS_MIGRATIONS, url)
    await migrate(BUS_MIGRATIONS, bus_url)
    return url, bus_url


@pytest.fixture
async def slow_poll(databases: tuple[str, str],
                    api_keys: tuple[Path, dict[str, str]]) -> AsyncIterator[Harness]:
    async with harness(*databases, *api_keys, delivery_poll_interval=POLL) as h:
        yield h


async def _deliveries_of(h: Harness, sub: dict[str, Any]) -> int:
    return len(await h.deliveries(subscription_id=sub["id"]))


async def test_a_consumed_event_is_delivered_long_before_the_next_poll(
        slow_poll: Harness, receiver: Receiver) -> None:
    sub = await slow_poll.subscribe(target=receiver.url("/fast"))
    event_ = capa_opened()
    await slow_poll.publish(event_, CAPA_TOPIC)

    async def delivered() -> bool:
        ds = await slow_poll.deliveries(subscription_id=sub["id"])
        return bool(ds) and ds[0]["status"] == "delivered"

    await eventually(delivered, timeout=DEADLINE, interval=0.02,
                     message=f"delivery without waiting for the {POLL:g} s poll")
    [request] = receiver.at("/fast")
    assert request.json()["id"] == event_.get_id()


async def test_a_test_send_from_the_api_goes_out_before_the_next_poll(
        slow_poll: Harness, receiver: Receiver) -> None:
    sub = await slow_poll.subscribe(target=receiver.url("/test-send"))
    sent = await slow_poll.client.post(f"/v1/subscriptions/{sub['id']}/test",
                                       headers=slow_poll.auth("reporter"))
    assert sent.status_code == 202, sent.text
    delivery_id = sent.json()["id"]

    async def delivered() -> bool:
        answer = await slow_poll.client.get(f"/v1/deliveries/{delivery_id}",
                                            headers=slow_poll.auth("reporter"))
        return bool(answer.json()["status"] == "delivered")

    await eventually(delivered, timeout=DEADLINE, interval=0.02,
                     message=f"test send without waiting for the {POLL:g} s poll")
    assert len(receiver.at("/test-send")) == 1


async def test_a_burst_for_one_capa_goes_out_in_order_without_polling(
        slow_poll: Harness, receiver: Receiver) -> None:
    # Slow enough that later events are queued while earlier ones are in flight.
    receiver.delay["/ordered"] = 0.05
    await slow_poll.subscribe(target=receiver.url("/ordered"))
    capa_id = uuid.uuid4()
    events = [capa_opened(capa_id, title=f"step {i}") for i in range(8)]
    for event_ in events:
        await slow_poll.publish(event_, CAPA_TOPIC)

    async def all_arrived() -> bool:
        return len(receiver.at("/ordered")) >= len(events)

    await eventually(all_arrived, timeout=DEADLINE, message="the burst, through wake-ups")
    assert [r.json()["id"] for r in receiver.at("/ordered")] == [e.get_id() for e in events]


async def test_subscription_writes_take_effect_for_the_next_event(
        slow_poll: Harness, receiver: Receiver) -> None:
    h = slow_poll
    witness = await h.subscribe(target=receiver.url("/witness"))
    sub = await h.subscribe(target=receiver.url("/sub"), filter={"tags": ["pump"]})
    matcher: EventMatcher = h.app.state.notifications_matcher

    async def consumed(n: int) -> None:
        # The witness matches everything: its n-th delivery means event n is matched
        # and committed, so the subscription's deliveries are final for it.
        async def seen() -> bool:
            return await _deliveries_of(h, witness) >= n
        await eventually(seen, timeout=DEADLINE, message=f"event {n} consumed")

    await h.publish(nc_reported(tags=["pump"]), NONCONFORMITY_TOPIC)
    await consumed(1)
    assert await _deliveries_of(h, sub) == 1
    # Unchanged subscriptions: the parsed filters are reused, not reloaded.
    reloads = matcher.reloads
    for n in (2, 3):
        await h.publish(nc_reported(tags=["seal"]), NONCONFORMITY_TOPIC)
        await consumed(n)
    assert matcher.reloads == reloads and await _deliveries_of(h, sub) == 1

    async def patch(body: dict[str, Any]) -> None:
        response = await h.client.patch(f"/v1/subscriptions/{sub['id']}", json=body,
                                        headers=h.auth("reporter"))
        assert response.status_code == 200, response.text

    await patch({"filter": {"tags": ["valve"]}})
    await h.publish(nc_reported(tags=["pump"]), NONCONFORMITY_TOPIC)
    await consumed(4)
    assert await _deliveries_of(h, sub) == 1  # the old filter no longer matches
    await h.publish(nc_reported(tags=["valve"]), NONCONFORMITY_TOPIC)
    await consumed(5)
    assert await _deliveries_of(h, sub) == 2

    await patch({"active": False})
    await h.publish(nc_reported(tags=["valve"]), NONCONFORMITY_TOPIC)
    await consumed(6)
    assert await _deliveries_of(h, sub) == 2
    await patch({"active": True})
    await h.publish(nc_reported(tags=["valve"]), NONCONFORMITY_TOPIC)
    await consumed(7)
    assert await _deliveries_of(h, sub) == 3

    response = await h.client.delete(f"/v1/subscriptions/{sub['id']}",
                                     headers=h.auth("reporter"))
    assert response.status_code == 204
    # A deleted subscription in a stale cache would break the delivery's foreign key.
    await h.publish(nc_reported(tags=["valve"]), NONCONFORMITY_TOPIC)
    await consumed(8)

    async def sent() -> bool:
        return len(receiver.at("/sub")) == 3
    await eventually(sent, timeout=DEADLINE, message="the three matching deliveries")


async def test_writes_through_another_process_invalidate_the_workers_cache(
        databases: tuple[str, str], api_keys: tuple[Path, dict[str, str]],
        receiver: Receiver) -> None:
    async with harness(*databases, *api_keys, delivery_poll_interval=POLL) as worker, \
            harness(*databases, *api_keys, run_workers=False) as replica:
        witness = await replica.subscribe(target=receiver.url("/witness"))

        async def consumed(n: int) -> None:
            async def seen() -> bool:
                return await _deliveries_of(replica, witness) >= n
            await eventually(seen, timeout=DEADLINE, message=f"event {n} consumed")

        await worker.publish(nc_reported(tags=["pump"]), NONCONFORMITY_TOPIC)
        await consumed(1)  # the worker's cache now holds the witness only
        sub = await replica.subscribe(target=receiver.url("/late"), filter={"tags": ["pump"]})
        await worker.publish(nc_reported(tags=["pump"]), NONCONFORMITY_TOPIC)
        await consumed(2)
        assert await _deliveries_of(replica, sub) == 1
        response = await replica.client.patch(f"/v1/subscriptions/{sub['id']}",
                                              json={"active": False},
                                              headers=replica.auth("reporter"))
        assert response.status_code == 200
        await worker.publish(nc_reported(tags=["pump"]), NONCONFORMITY_TOPIC)
        await consumed(3)
        assert await _deliveries_of(replica, sub) == 1

        async def arrived() -> bool:
            return len(receiver.at("/late")) == 1 and len(receiver.at("/witness")) == 3
        await eventually(arrived, timeout=DEADLINE, message="deliveries of both")


# --- the worker alone, its statements counted ------------------------------------

@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, new_sqlite_database: DatabaseFactory,
                       new_postgres_database: DatabaseFactory) -> str:
    url = await (new_sqlite_database if request.param == "sqlite" else new_postgres_database)()
    await migrate(NOTIFICATIONS_MIGRATIONS, url)
    return url


async def _subscriptions(sessions: Any, targets: list[str]) -> None:
    now = utcnow()
    async with transaction(sessions) as session:
        for target in targets:
            session.add(Subscription(owner="test", channel="webhook", target=target,
                                     secret=new_secret(), created_at=now, updated_at=now))


async def test_statements_per_delivery_are_bounded(database_url: str,
                                                   receiver: Receiver) -> None:
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    settings = NotificationsSettings(database_url=database_url, **fast_settings())
    n = 20
    await _subscriptions(sessions, [receiver.url(f"/n/{i}") for i in range(n)])
    queued = await match(sessions, capa_opened())
    assert len(queued) == n
    worker = DeliveryWorker(sessions=sessions, settings=settings)
    counts: Counter[str] = Counter()

    def statement(*_: Any) -> None:
        counts["statements"] += 1  # SQLite's BEGIN runs as a statement too

    def checkout(*_: Any) -> None:
        counts["checkouts"] += 1  # a pre-ping each, with pool_pre_ping

    event.listen(engine.sync_engine, "before_cursor_execute", statement)
    event.listen(engine.sync_engine, "engine_connect", checkout)
    try:
        assert await worker.dispatch_due(queued) == n

        async def done() -> bool:
            return worker.in_progress == 0 and len(receiver.received) == n
        await eventually(done, timeout=20, message="all sent and recorded")
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", statement)
        event.remove(engine.sync_engine, "engine_connect", checkout)
        await worker.aclose()
    try:
        async with sessions() as session:
            delivered = (await session.exec(select(Delivery.id).where(
                col(Delivery.status) == "delivered"))).all()
            events = (await session.exec(select(OutboxMessage.event_type))).all()
        assert len(delivered) == n and len(events) == n
        # Re-reading the delivery and subscription before and after each send cost
        # three sessions and ~10 statements per delivery. Now: the dispatch read once,
        # then at most one UPDATE + INSERT (+ BEGIN on SQLite) and one checkout each,
        # fewer when results are written together.
        assert counts["statements"] <= 3 * n + 2, counts
        assert counts["checkouts"] <= n + 1, counts
    finally:
        await engine.dispose()


async def test_a_result_is_recorded_only_over_the_attempt_it_belongs_to(
        database_url: str) -> None:
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    settings = NotificationsSettings(database_url=database_url, **fast_settings())
    try:
        await _subscriptions(sessions, ["http://127.0.0.1:9/hook"])
        queued = await match(sessions, capa_opened())
        async with transaction(sessions) as session:
            [(due, more)] = await claim(session, worker="w1", lease=timedelta(minutes=1),
                                        limit=10, ids=queued)
        assert more is False
        ok = AttemptResult(Outcome.delivered, 204)

        async def record_(due: Due, result: AttemptResult, worker: str = "w1") -> bool:
            async with transaction(sessions) as session:
                return await record(session, due, result, started=utcnow(), settings=settings,
                                    worker=worker)

        async def claim_again() -> None:
            async with transaction(sessions) as session:
                await session.exec(update(Delivery).values(  # type: ignore[call-overload]
                    next_attempt_at=utcnow()))
                assert len(await claim(session, worker="w1", lease=timedelta(minutes=1),
                                       limit=10, ids=queued)) == 1

        assert await record_(due, AttemptResult(Outcome.retry, 503, "HTTP 503")) is True
        await claim_again()
        # The same attempt count again (a second sender, a stale row): ignored.
        assert await record_(due, ok) is False
        # Another worker's result over our claim: ignored.
        assert await record_(replace(due, attempts=1), ok, worker="w2") is False
        assert await record_(replace(due, attempts=1), ok) is True
        assert await record_(replace(due, attempts=2), ok) is False  # no longer pending
        async with sessions() as session:
            [stored] = (await session.exec(select(Delivery))).all()
            events = (await session.exec(select(OutboxMessage.event_type))).all()
        assert stored.status == "delivered" and stored.attempts == 2
        assert stored.claimed_by is None and stored.claim_expires_at is None
        assert events == ["capaflow.notification.delivered.v1"]
    finally:
        await engine.dispose()


async def test_a_batch_of_events_is_numbered_and_matched_in_two_statements(
        database_url: str) -> None:
    # The consumer hands a fetched batch to EventMatcher.handle_many in one transaction:
    # one INSERT numbers every event, one INSERT queues every delivery.
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    await _subscriptions(sessions, ["http://127.0.0.1:9/hook"])  # matches every event
    events = [as_consumed(capa_opened(title=f"step {i}")) for i in range(30)]
    matcher = EventMatcher()
    statements: list[str] = []

    def statement(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        statements.append(sql.split()[0].upper())

    try:
        async with transaction(sessions) as session:
            await matcher._current(session, None)  # the filter cache, loaded beforehand
            event.listen(engine.sync_engine, "before_cursor_execute", statement)
            try:
                await matcher.handle_many(session, events)
            finally:
                event.remove(engine.sync_engine, "before_cursor_execute", statement)
        # SQLite: one INSERT per event for the numbering (SQLAlchemy cannot batch rows
        # whose generated keys it must read back in order there), still one for the
        # deliveries.
        postgres = engine.dialect.name == "postgresql"
        assert statements.count("INSERT") == (2 if postgres else len(events) + 1), statements
        async with sessions() as session:
            rows = (await session.exec(select(Delivery.event_id, Delivery.seq)
                                       .order_by(col(Delivery.seq)))).all()
        # Numbered in the order consumed: each delivery carries its own event's position.
        assert [event_id for event_id, _ in rows] == [e.id for e in events]
        assert len({seq for _, seq in rows}) == 30
    finally:
        await engine.dispose()
