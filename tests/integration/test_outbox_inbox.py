"""Outbox relay and idempotent consumer on real databases and buses.

Runs on SQLite + sql bus, PostgreSQL + sql bus and PostgreSQL + Kafka.
"""

import asyncio
import uuid

import pytest
from cloudevents.core.v1.event import CloudEvent
from prometheus_client import REGISTRY
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.events.catalog import CapaOpened, Severity
from shared.events.envelope import from_record
from shared.inbox import ConsumedEvent, EventConsumer, HandlerTable, ProcessedEvent, dlq_topic
from shared.outbox import OutboxMessage, enqueue
from shared.relay import OutboxRelay
from tests.conftest import eventually
from tests.integration.conftest import Pipeline, capa_opened_event, read_all, relay_all, running


async def test_rolled_back_transaction_publishes_nothing(pipeline: Pipeline) -> None:
    bus = pipeline.bus_under_test.make_bus()
    topic = await pipeline.bus_under_test.new_topic()
    relay = OutboxRelay(service="capa", sessions=pipeline.sessions, bus=bus)

    rolled_back = capa_opened_event(uuid.uuid4())
    with pytest.raises(RuntimeError):
        async with pipeline.sessions() as session, session.begin():
            enqueue(session, rolled_back, topic=topic)
            raise RuntimeError("use case failed after recording its event")

    committed = [capa_opened_event(uuid.uuid4()), capa_opened_event(uuid.uuid4())]
    async with pipeline.sessions() as session, session.begin():
        for event in committed:
            enqueue(session, event, topic=topic)

    assert await relay_all(relay) == 2
    assert (await relay.measure_backlog())[0] == 0
    got = await read_all(bus, topic, expect=2)
    assert sorted(from_record(r).get_id() for r in got) == sorted(e.get_id() for e in committed)


async def test_relay_keeps_order_per_aggregate_in_batches(pipeline: Pipeline) -> None:
    bus = pipeline.bus_under_test.make_bus()
    topic = await pipeline.bus_under_test.new_topic()
    capas = [uuid.uuid4() for _ in range(4)]
    async with pipeline.sessions() as session, session.begin():
        for step in range(25):
            for capa_id in capas:
                enqueue(session, capa_opened_event(capa_id, title=f"step {step}"), topic=topic)

    relay = OutboxRelay(service="capa", sessions=pipeline.sessions, bus=bus, batch_size=7)
    assert await relay_all(relay) == 100
    got = await read_all(bus, topic, expect=100)
    for capa_id in capas:
        titles = [from_record(r).get_data()["title"] for r in got  # type: ignore[index]
                  if r.key == str(capa_id)]
        assert titles == [f"step {i}" for i in range(25)]


async def test_relay_crash_between_publish_and_mark_sent_has_effect_once(
        pipeline: Pipeline) -> None:
    bus = pipeline.bus_under_test.make_bus()
    topic = await pipeline.bus_under_test.new_topic()
    events = [capa_opened_event(uuid.uuid4()) for _ in range(5)]
    async with pipeline.sessions() as session, session.begin():
        for event in events:
            enqueue(session, event, topic=topic)

    async def crash(_ids: list[int]) -> None:
        raise RuntimeError("relay killed after the broker acknowledged")

    crashing = OutboxRelay(service="capa", sessions=pipeline.sessions, bus=bus,
                           after_publish=crash)
    with pytest.raises(RuntimeError):
        await crashing.relay_once()
    async with pipeline.sessions() as session:
        unsent = (await session.exec(select(OutboxMessage)
                                     .where(col(OutboxMessage.sent_at).is_(None)))).all()
    assert len(unsent) == 5, "a row is marked sent only after a completed relay pass"

    restarted = OutboxRelay(service="capa", sessions=pipeline.sessions, bus=bus)
    assert await relay_all(restarted) == 5

    # The bus now holds every event twice; the consumer's effect happens once each.
    effects: list[str] = []

    async def open_capa(session: AsyncSession, event: ConsumedEvent[CapaOpened]) -> None:
        effects.append(event.id)

    group = f"capa-{uuid.uuid4().hex[:6]}"
    consumer = EventConsumer(group=group, topics=[topic], sessions=pipeline.sessions,
                             bus=bus, handlers={CapaOpened: open_capa})
    async with running(consumer):
        async def all_seen() -> bool:
            async with pipeline.sessions() as session:
                rows = (await session.exec(select(ProcessedEvent).where(
                    ProcessedEvent.consumer_group == group))).all()
            return len(rows) == 5
        await eventually(all_seen, message="5 processed events")
        assert len(await read_all(bus, topic, expect=10)) == 10  # each event is there twice

        # Wait until the consumer has also met the five republished copies.
        def duplicates() -> float:
            return REGISTRY.get_sample_value("capaflow_events_consumed_total", {
                "group": group, "type": CapaOpened.event_type, "outcome": "duplicate"}) or 0

        async def copies_skipped() -> bool:
            return duplicates() == 5
        await eventually(copies_skipped, message="the 5 republished copies skipped")
    assert sorted(effects) == sorted(e.get_id() for e in events)


async def test_poison_record_is_dead_lettered_and_later_records_still_flow(
        pipeline: Pipeline) -> None:
    bus = pipeline.bus_under_test.make_bus()
    topic = await pipeline.bus_under_test.new_topic()
    capa_id = uuid.uuid4()
    poison = capa_opened_event(capa_id, title="poison")
    healthy = [capa_opened_event(capa_id, title=f"healthy {i}") for i in range(3)]
    async with pipeline.sessions() as session, session.begin():
        for event in (poison, *healthy):
            enqueue(session, event, topic=topic)
    await relay_all(OutboxRelay(service="capa", sessions=pipeline.sessions, bus=bus))

    handled: list[str] = []
    attempts: list[str] = []

    async def handler(session: AsyncSession, event: ConsumedEvent[CapaOpened]) -> None:
        if event.data.title == "poison":
            attempts.append(event.id)
            raise ValueError("cannot open a CAPA for this record")
        handled.append(event.data.title)

    handlers: HandlerTable = {CapaOpened: handler}
    group = f"capa-{uuid.uuid4().hex[:6]}"
    consumer = EventConsumer(group=group, topics=[topic], sessions=pipeline.sessions, bus=bus,
                             handlers=handlers, max_attempts=3, retry_backoff=0.01)
    async with running(consumer):
        async def healthy_done() -> bool:
            return len(handled) == 3
        await eventually(healthy_done, message="the records behind the poison one")

    assert handled == ["healthy 0", "healthy 1", "healthy 2"]
    assert attempts == [poison.get_id()] * 3
    dead = await read_all(bus, dlq_topic(group), expect=1)
    assert len(dead) == 1
    assert from_record(dead[0]).get_id() == poison.get_id()
    assert dead[0].header("dlq-attempts") == b"3"
    assert dead[0].header("dlq-error-type") == b"ValueError"
    assert b"cannot open a CAPA" in (dead[0].header("dlq-error") or b"")
    assert dead[0].header("dlq-original-topic") == topic.encode()
    # The poison event is not marked processed: replaying the DLQ can still handle it.
    async with pipeline.sessions() as session:
        ids = (await session.exec(select(ProcessedEvent.event_id).where(
            ProcessedEvent.consumer_group == group))).all()
    assert poison.get_id() not in ids and len(ids) == 3



async def test_an_event_not_shaped_like_its_type_is_dead_lettered_without_retries(
        pipeline: Pipeline) -> None:
    """The consumer decodes each event into its catalog model before the handler
    runs: data that does not fit is a bad record, which no retry can mend."""
    bus = pipeline.bus_under_test.make_bus()
    topic = await pipeline.bus_under_test.new_topic()
    capa_id = uuid.uuid4()
    misshapen = capa_opened_event(capa_id, title="misshapen")
    data = dict(misshapen.get_data() or {})
    data["severity"] = "catastrophic"  # not a Severity
    misshapen = CloudEvent(misshapen.get_attributes(), data)
    healthy = capa_opened_event(capa_id, title="healthy")
    async with pipeline.sessions() as session, session.begin():
        for event in (misshapen, healthy):
            enqueue(session, event, topic=topic)
    await relay_all(OutboxRelay(service="capa", sessions=pipeline.sessions, bus=bus))

    handled: list[tuple[str, Severity]] = []

    async def handler(session: AsyncSession, event: ConsumedEvent[CapaOpened]) -> None:
        handled.append((event.data.title, event.data.severity))  # typed, already validated

    group = f"capa-{uuid.uuid4().hex[:6]}"
    consumer = EventConsumer(group=group, topics=[topic], sessions=pipeline.sessions, bus=bus,
                             handlers={CapaOpened: handler}, max_attempts=3)
    async with running(consumer):
        async def healthy_done() -> bool:
            return len(handled) == 1
        await eventually(healthy_done, message="the record behind the misshapen one")

    assert handled == [("healthy", Severity.major)]
    dead = await read_all(bus, dlq_topic(group), expect=1)
    assert [from_record(r).get_id() for r in dead] == [misshapen.get_id()]
    assert dead[0].header("dlq-attempts") == b"1"
    assert dead[0].header("dlq-error-type") == b"ValidationError"

async def test_relay_replicas_on_one_database_keep_order(pipeline: Pipeline) -> None:
    if pipeline.kind.startswith("sqlite"):
        pytest.skip("a SQLite file belongs to one process, which runs one relay")
    bus = pipeline.bus_under_test.make_bus()
    topic = await pipeline.bus_under_test.new_topic()
    capa_id = uuid.uuid4()
    async with pipeline.sessions() as session, session.begin():
        for step in range(60):
            enqueue(session, capa_opened_event(capa_id, title=f"step {step}"), topic=topic)

    replicas = [OutboxRelay(service="capa", sessions=pipeline.sessions, bus=bus, batch_size=5)
                for _ in range(3)]

    async def drain(relay: OutboxRelay) -> None:
        while (await relay.measure_backlog())[0]:
            await relay.relay_once()

    await asyncio.gather(*(drain(r) for r in replicas))
    got = await read_all(bus, topic, expect=60)
    titles = [from_record(r).get_data()["title"] for r in got]  # type: ignore[index]
    assert titles == [f"step {i}" for i in range(60)]


async def test_database_outage_is_waited_out_not_dead_lettered(pipeline: Pipeline) -> None:
    from sqlalchemy.exc import OperationalError

    bus = pipeline.bus_under_test.make_bus()
    topic = await pipeline.bus_under_test.new_topic()
    event = capa_opened_event(uuid.uuid4())
    async with pipeline.sessions() as session, session.begin():
        enqueue(session, event, topic=topic)
    await relay_all(OutboxRelay(service="capa", sessions=pipeline.sessions, bus=bus))

    calls: list[str] = []

    async def handler(session: AsyncSession, received: ConsumedEvent[CapaOpened]) -> None:
        calls.append(received.id)
        # Three failures: one more than max_attempts allows for a bad record, which is
        # all the claim needs. Each outage wait doubles (shared/inbox.py, 0.4 s, 0.8 s,
        # 1.6 s, 3.2 s ...), so a fourth failure only added 3.2 s of waiting.
        if len(calls) <= 3:
            raise OperationalError("SELECT 1", None, ConnectionRefusedError("db is down"))

    group = f"capa-{uuid.uuid4().hex[:6]}"
    consumer = EventConsumer(group=group, topics=[topic], sessions=pipeline.sessions, bus=bus,
                             handlers={CapaOpened: handler}, max_attempts=2,
                             retry_backoff=0.01)
    async with running(consumer):
        async def handled() -> bool:
            return len(calls) == 4
        await eventually(handled, message="handled once the database is back")
    async with pipeline.sessions() as session:
        done = (await session.exec(select(ProcessedEvent).where(
            ProcessedEvent.consumer_group == group))).all()
    assert [p.event_id for p in done] == [event.get_id()]
    sub = bus.subscribe(group=f"dlq-reader-{uuid.uuid4().hex[:6]}", topics=[dlq_topic(group)])
    await sub.start()
    try:
        assert await sub.fetch(max_records=10, timeout=1.0) == []
    finally:
        await sub.stop()
