"""The DLQ tool ends, on every bus, while its own work feeds the DLQ.

An outside review ran ``replay`` with an unreadable record in the DLQ: each
replayed copy was dead-lettered again in well under a second, and the tool,
which stopped only after a quiet second, republished it ~51,000 times.
"""

import asyncio
import uuid
from collections.abc import Sequence

from aiokafka.admin import AIOKafkaAdminClient
from sqlmodel.ext.asyncio.session import AsyncSession

from shared import dlq
from shared.bus.base import Bus, OutgoingRecord, ReceivedRecord
from shared.bus.kafka import KafkaBus
from shared.bus.snapshot import open_snapshot
from shared.events.catalog import CapaOpened
from shared.events.envelope import to_record
from shared.inbox import ConsumedEvent, EventConsumer, dlq_topic
from tests.conftest import eventually, require_kafka
from tests.integration.conftest import BusUnderTest, Pipeline, capa_opened_event, running

UNREADABLE = b"not a cloudevent {"
# A run that does not end is the bug: fail it instead of waiting for ever.
MUST_END_WITHIN = 60.0


def _dead_letter(record: OutgoingRecord, group: str) -> OutgoingRecord:
    """What shared.inbox writes when it gives up on ``record``."""
    return OutgoingRecord(topic=dlq_topic(group), key=record.key, value=record.value,
                          headers=(*record.headers, ("dlq-consumer-group", group.encode()),
                                   ("dlq-original-topic", record.topic.encode()),
                                   ("dlq-attempts", b"5"), ("dlq-error-type", b"LookupError"),
                                   ("dlq-error", b"owner directory unreachable")))


async def _whole_topic(bus: Bus, topic: str) -> list[ReceivedRecord]:
    """Everything on ``topic`` right now (a snapshot: it ends)."""
    snapshot = open_snapshot(bus, topic=topic, group=None)
    await snapshot.start()
    got: list[ReceivedRecord] = []
    try:
        while not snapshot.done:
            got.extend(await snapshot.fetch(max_records=500, timeout=0.5))
    finally:
        await snapshot.stop()
    return got


async def test_replay_ends_at_the_dlq_end_it_saw_while_each_replay_fails_again(
        bus_under_test: BusUnderTest) -> None:
    bus = bus_under_test.make_bus()
    topic = await bus_under_test.new_topic()
    group = f"capa-{uuid.uuid4().hex[:6]}"
    original = to_record(capa_opened_event(title="fails every time"), topic)
    await bus.publish([_dead_letter(original, group)])

    # The consumer at its fastest: every replayed record is back in the DLQ
    # before the replay publishes its next batch.
    publish = bus.publish

    async def publish_and_fail_again(records: Sequence[OutgoingRecord]) -> None:
        await publish(records)
        await publish([_dead_letter(r, group) for r in records if r.topic == topic])

    bus.publish = publish_and_fail_again  # type: ignore[method-assign]
    outcome = await asyncio.wait_for(dlq.replay(bus=bus, group=group), MUST_END_WITHIN)
    assert len(outcome.replayed) == 1 and outcome.stalled is None
    # The copy that came back waits for the next run, once.
    (again,) = await asyncio.wait_for(dlq.read_dead_letters(bus=bus, group=group),
                                      MUST_END_WITHIN)
    assert again.record.value == original.value
    assert len(await _whole_topic(bus, topic)) == 1


async def test_list_ends_while_dead_letters_keep_arriving(bus_under_test: BusUnderTest) -> None:
    bus = bus_under_test.make_bus()
    topic = await bus_under_test.new_topic()
    group = f"capa-{uuid.uuid4().hex[:6]}"
    first = [to_record(capa_opened_event(title=f"letter {i}"), topic) for i in range(3)]
    await bus.publish([_dead_letter(r, group) for r in first])
    stop = asyncio.Event()

    async def keep_dead_lettering() -> None:
        while not stop.is_set():
            more = to_record(capa_opened_event(title="more"), topic)
            await bus.publish([_dead_letter(more, group)])
            await asyncio.sleep(0.02)

    feeder = asyncio.create_task(keep_dead_lettering())
    try:
        for pending_only in (True, False):
            letters = await asyncio.wait_for(dlq.read_dead_letters(
                bus=bus, group=group, pending_only=pending_only), MUST_END_WITHIN)
            values = [letter.record.value for letter in letters]
            assert all(r.value in values for r in first)
    finally:
        stop.set()
        await feeder


async def test_unreadable_dead_letter_is_skipped_and_the_readable_one_replayed_once(
        pipeline: Pipeline) -> None:
    bus = pipeline.bus_under_test.make_bus()
    topic = await pipeline.bus_under_test.new_topic()
    readable = capa_opened_event(title="owner unknown")
    await bus.publish([OutgoingRecord(topic=topic, key="junk", value=UNREADABLE),
                       to_record(readable, topic)])
    fixed = False
    handled: list[str] = []

    async def handler(session: AsyncSession, event: ConsumedEvent[CapaOpened]) -> None:
        if not fixed:
            raise LookupError("owner directory unreachable")
        handled.append(event.id)

    group = f"capa-{uuid.uuid4().hex[:6]}"
    consumer = EventConsumer(group=group, topics=[topic], sessions=pipeline.sessions, bus=bus,
                             handlers={CapaOpened: handler}, max_attempts=1,
                             retry_backoff=0.01)
    # The consumer keeps running, as in production: it dead-letters again at
    # once whatever unreadable record the replay would send back.
    async with running(consumer):
        async def both_dead_lettered() -> bool:
            return len(await dlq.read_dead_letters(bus=bus, group=group)) == 2
        await eventually(both_dead_lettered, timeout=60, message="two dead letters")

        fixed = True
        outcome = await asyncio.wait_for(dlq.replay(bus=bus, group=group), MUST_END_WITHIN)
        assert [letter.event_id for letter in outcome.replayed] == [readable.get_id()]
        (skipped,) = outcome.skipped
        assert skipped.record.value == UNREADABLE and skipped.event_id is None
        assert skipped.unreplayable and "not a readable CloudEvent" in skipped.unreplayable

        async def handled_once() -> bool:
            return handled == [readable.get_id()]
        await eventually(handled_once, message="the replayed event handled")
        # Skipped for good: the next run offers neither of them again.
        assert await dlq.read_dead_letters(bus=bus, group=group) == []
        again = await asyncio.wait_for(dlq.replay(bus=bus, group=group), MUST_END_WITHIN)
        assert again.replayed == [] and again.skipped == []

    on_topic = await _whole_topic(bus, topic)
    assert [r.value for r in on_topic].count(UNREADABLE) == 1
    assert [r.value for r in on_topic].count(to_record(readable, topic).value) == 2
    assert len(await dlq.read_dead_letters(bus=bus, group=group, pending_only=False)) == 2
    assert handled == [readable.get_id()]


async def test_listing_leaves_no_consumer_group_behind_on_kafka() -> None:
    bootstrap = require_kafka()
    namespace = f"dlqlist{uuid.uuid4().hex[:6]}."
    bus = KafkaBus(bootstrap_servers=bootstrap, client_id="test-dlq", namespace=namespace)
    group = "capa"
    try:
        letter = _dead_letter(to_record(capa_opened_event(title="x"), "nc.events"), group)
        await bus.publish([letter])
        assert len(await dlq.read_dead_letters(bus=bus, group=group, pending_only=False)) == 1
        assert len(await dlq.read_dead_letters(bus=bus, group=group)) == 1
    finally:
        await bus.stop()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        groups = [name for name, *_ in await admin.list_consumer_groups()]
    finally:
        await admin.close()
    assert [name for name in groups if name.startswith(namespace)] == []
