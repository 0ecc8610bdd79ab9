"""A fetched batch handled in one transaction (shared.inbox_batch), on every bus.

The batch must keep the per-record path's guarantees: each event's effect
once, in order, duplicates skipped, and one bad record costing the others
nothing but a second run of their (rolled back) handlers.
"""

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event as sa_event
from sqlalchemy.engine import Connection
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import utcnow
from shared.events.catalog import CapaOpened
from shared.events.envelope import from_record, to_record
from shared.inbox import ConsumedEvent, EventConsumer, ProcessedEvent, dlq_topic
from shared.outbox import OutboxMessage, enqueue
from shared.relay import OutboxRelay
from tests.conftest import eventually
from tests.integration.conftest import Pipeline, capa_opened_event, read_all, relay_all, running


@contextmanager
def counting_commits(pipeline: Pipeline) -> Iterator[list[int]]:
    engine = pipeline.sessions().sync_session.bind
    commits = [0]

    def count(_conn: Connection) -> None:
        commits[0] += 1

    sa_event.listen(engine, "commit", count)
    try:
        yield commits
    finally:
        sa_event.remove(engine, "commit", count)


async def effects(pipeline: Pipeline, topic: str) -> list[str]:
    """The titles the handler recorded, in the order it recorded them."""
    async with pipeline.sessions() as session:
        rows = (await session.exec(select(OutboxMessage).where(OutboxMessage.topic == topic)
                                   .order_by(col(OutboxMessage.id)))).all()
    return [json.loads(r.value)["data"]["title"] for r in rows]


def recording_handler(effect_topic: str, fail: dict[str, int] | None = None):  # type: ignore[no-untyped-def]
    """A handler whose effect is a row in the same transaction (an outbox row on
    ``effect_topic``); ``fail`` maps titles to how many more calls should raise."""
    calls: list[str] = []

    async def handle(session: AsyncSession, event: ConsumedEvent[CapaOpened]) -> None:
        calls.append(event.data.title)
        if fail and fail.get(event.data.title, 0) > 0:
            fail[event.data.title] -= 1
            raise ValueError(f"cannot handle {event.data.title}")
        enqueue(session, capa_opened_event(uuid.uuid4(), title=event.data.title),
                topic=effect_topic)
    return handle, calls


async def test_a_fetched_batch_commits_once_and_keeps_order_and_idempotency(
        pipeline: Pipeline) -> None:
    bus = pipeline.bus_under_test.make_bus()
    topic = await pipeline.bus_under_test.new_topic()
    effect_topic = f"effects-{uuid.uuid4().hex[:6]}"
    group = f"capa-{uuid.uuid4().hex[:6]}"
    capa_id = uuid.uuid4()
    events = [capa_opened_event(capa_id, title=f"step {i}") for i in range(24)]
    already = events[3:6]  # processed before (by another replica, say)
    async with pipeline.sessions() as session, session.begin():
        for event in events:
            enqueue(session, event, topic=topic)
        for event in already:
            session.add(ProcessedEvent(consumer_group=group, event_id=event.get_id(),
                                       event_type=event.get_type(), processed_at=utcnow()))
    await relay_all(OutboxRelay(service="capa", sessions=pipeline.sessions, bus=bus))
    await bus.publish([to_record(events[10], topic)])  # the same event twice on the topic

    handler, calls = recording_handler(effect_topic)
    want = [f"step {i}" for i in range(24) if not 3 <= i < 6]
    consumer = EventConsumer(group=group, topics=[topic], sessions=pipeline.sessions, bus=bus,
                             handlers={CapaOpened: handler})
    with counting_commits(pipeline) as commits:
        async with running(consumer):
            async def all_handled() -> bool:
                return len(await effects(pipeline, effect_topic)) >= len(want)
            await eventually(all_handled, message="every new event handled")
    assert await effects(pipeline, effect_topic) == want, "each new event once, in order"
    assert calls == want
    # One transaction per fetched batch, not per record: the per-record path
    # would have committed once for each of the 21 handled events.
    assert 1 <= commits[0] <= len(want) // 2, commits[0]


async def test_a_failing_handler_sends_its_batch_one_by_one_and_costs_nothing_else(
        pipeline: Pipeline) -> None:
    bus = pipeline.bus_under_test.make_bus()
    topic = await pipeline.bus_under_test.new_topic()
    effect_topic = f"effects-{uuid.uuid4().hex[:6]}"
    group = f"capa-{uuid.uuid4().hex[:6]}"
    events = [capa_opened_event(uuid.uuid4(), title=f"record {i}") for i in range(10)]
    async with pipeline.sessions() as session, session.begin():
        for event in events:
            enqueue(session, event, topic=topic)
    await relay_all(OutboxRelay(service="capa", sessions=pipeline.sessions, bus=bus))

    # "record 2" fails once (a transient fault), "record 6" always (a poison record).
    handler, calls = recording_handler(effect_topic, fail={"record 2": 1, "record 6": 99})
    consumer = EventConsumer(group=group, topics=[topic], sessions=pipeline.sessions, bus=bus,
                             handlers={CapaOpened: handler}, max_attempts=3,
                             retry_backoff=0.01)
    healthy = [f"record {i}" for i in range(10) if i != 6]
    async with running(consumer):
        async def healthy_done() -> bool:
            return len(await effects(pipeline, effect_topic)) >= len(healthy)
        await eventually(healthy_done, message="the healthy records")
        dead = await read_all(bus, dlq_topic(group), expect=1)

    # Sorted: the records have different keys, so Kafka spreads them over partitions.
    assert sorted(await effects(pipeline, effect_topic)) == healthy, "each healthy effect once"
    # The poison record had max_attempts calls in all, the failed batch counting as its first.
    assert calls.count("record 6") == 3
    assert [from_record(r).get_id() for r in dead] == [events[6].get_id()]
    assert dead[0].header("dlq-attempts") == b"3"
    async with pipeline.sessions() as session:
        processed = (await session.exec(select(ProcessedEvent.event_id).where(
            ProcessedEvent.consumer_group == group))).all()
    assert sorted(processed) == sorted(e.get_id() for i, e in enumerate(events) if i != 6)
