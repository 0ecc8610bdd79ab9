"""DLQ replay (shared.dlq) on SQLite + sql bus, PostgreSQL + sql bus and PostgreSQL + Kafka.

A handler fails for an event until an operator fixes the cause; the record
lands in ``<group>.dlq``; the replay hands it back to the consumer, which
then handles it exactly once.
"""

import asyncio
import os
import sys
import uuid

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared import dlq
from shared.bus.base import Bus, OutgoingRecord, ReceivedRecord
from shared.events.catalog import CapaOpened
from shared.events.envelope import from_record, to_record
from shared.inbox import ConsumedEvent, EventConsumer, ProcessedEvent, dlq_topic
from tests.conftest import ROOT, eventually, require_kafka
from tests.integration.conftest import Pipeline, capa_opened_event, running

# A read that gets no record for this long before the end of the DLQ gives up.
IDLE = 15.0


async def _pending(bus: Bus, group: str, expect: int,
                   attempts: list[str]) -> list[dlq.DeadLetter]:
    letters: list[dlq.DeadLetter] = []

    async def arrived() -> bool:
        letters[:] = await dlq.read_dead_letters(bus=bus, group=group, idle=IDLE)
        return len(letters) >= expect

    try:
        await eventually(arrived, timeout=60, interval=0.2, message=f"{expect} dead letters")
    except AssertionError as exc:
        everything = await dlq.read_dead_letters(bus=bus, group=group, pending_only=False,
                                                 idle=IDLE)
        raise AssertionError(f"{exc}; pending {len(letters)}, in the DLQ {len(everything)}, "
                             f"attempts {attempts}") from exc
    return letters


async def _read_topic(bus: Bus, topic: str, *, expect: int) -> list[ReceivedRecord]:
    sub = bus.subscribe(group=f"reader-{uuid.uuid4().hex[:6]}", topics=[topic])
    await sub.start()
    got: list[ReceivedRecord] = []
    try:
        async def enough() -> bool:
            got.extend(await sub.fetch(max_records=100, timeout=0.2))
            return len(got) >= expect

        await eventually(enough, interval=0, message=f"{expect} records on {topic}")
    finally:
        await sub.stop()
    return got


async def _processed(pipeline: Pipeline, group: str) -> list[str]:
    async with pipeline.sessions() as session:
        return list((await session.exec(select(ProcessedEvent.event_id).where(
            ProcessedEvent.consumer_group == group))).all())


async def test_replayed_dead_letter_is_handled_once_after_the_fix(pipeline: Pipeline) -> None:
    bus = pipeline.bus_under_test.make_bus()
    topic = await pipeline.bus_under_test.new_topic()
    capa_id = uuid.uuid4()
    first, second = capa_opened_event(capa_id, "first"), capa_opened_event(capa_id, "second")
    await bus.publish([to_record(first, topic), to_record(second, topic)])

    fixed = False
    handled: list[str] = []
    attempts: list[str] = []

    async def handler(session: AsyncSession, event: ConsumedEvent[CapaOpened]) -> None:
        attempts.append(event.id)
        if not fixed:
            raise LookupError("owner directory unreachable")
        handled.append(event.id)

    group = f"capa-{uuid.uuid4().hex[:6]}"
    consumer = EventConsumer(group=group, topics=[topic], sessions=pipeline.sessions, bus=bus,
                             handlers={CapaOpened: handler}, max_attempts=2,
                             retry_backoff=0.01)
    async with running(consumer):
        letters = await _pending(bus, group, expect=2, attempts=attempts)
        assert [letter.event_id for letter in letters] == [first.get_id(), second.get_id()]
        assert letters[0].original_topic == topic
        assert "attempts=2" in letters[0].describe()
        assert "LookupError: owner directory unreachable" in letters[0].describe()
        assert handled == [] and await _processed(pipeline, group) == []

        fixed = True
        # Only the second: the first stays pending, and holds back the commit.
        outcome = await dlq.replay(bus=bus, group=group, event_ids={second.get_id()}, idle=IDLE)
        assert [letter.event_id for letter in outcome.replayed] == [second.get_id()]
        assert outcome.skipped == [] and outcome.stalled is None

        async def second_handled() -> bool:
            return handled == [second.get_id()]
        await eventually(second_handled, message="the replayed event handled")
        pending = await dlq.read_dead_letters(bus=bus, group=group, idle=IDLE)
        assert first.get_id() in [letter.event_id for letter in pending]

        outcome = await dlq.replay(bus=bus, group=group, idle=IDLE)
        assert first.get_id() in [letter.event_id for letter in outcome.replayed]

        async def both_processed() -> bool:
            return sorted(await _processed(pipeline, group)) == sorted(
                [first.get_id(), second.get_id()])
        await eventually(both_processed, message="both events processed")
        # Everything is committed now: a third replay finds nothing to repeat.
        assert (await dlq.replay(bus=bus, group=group, idle=IDLE)).replayed == []
        assert await dlq.read_dead_letters(bus=bus, group=group, idle=IDLE) == []
        assert len(await dlq.read_dead_letters(bus=bus, group=group, pending_only=False,
                                               idle=IDLE)) == 2
    # The second event may have been replayed twice; its effect happened once.
    assert sorted(handled) == sorted([first.get_id(), second.get_id()])

    on_topic = await _read_topic(bus, topic, expect=4)
    replays = [r for r in on_topic if r.header(dlq.REPLAYED_AT) is not None]
    assert len(replays) >= 2 and {r.key for r in replays} == {str(capa_id)}
    for record in replays:
        assert not [k for k, _ in record.headers if k.startswith("dlq-") and k != dlq.REPLAYED_AT]
        assert record.header("content-type") == b"application/cloudevents+json"
        assert from_record(record).get_id() in (first.get_id(), second.get_id())


async def _cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "shared.dlq", *args, "--idle", "15", cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})
    out, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_command_line_lists_and_replays(pipeline: Pipeline) -> None:
    bus = pipeline.bus_under_test.make_bus()
    topic = await pipeline.bus_under_test.new_topic()
    # The same bus named by flags, or read from a service's environment like its pods do.
    if pipeline.bus_under_test.kind == "kafka":
        where = ["--bus", "kafka", "--bootstrap", require_kafka()]
        service_env = {"DLQTEST_BUS": "kafka", "DLQTEST_KAFKA_BOOTSTRAP_SERVERS": require_kafka()}
    else:
        url = bus._url  # type: ignore[attr-defined]
        where = ["--bus", "sql", "--url", url]
        service_env = {"DLQTEST_BUS": "sql", "DLQTEST_BUS_DATABASE_URL": url}
    event = capa_opened_event(uuid.uuid4(), "poison")
    original = to_record(event, topic)
    group = f"capa-{uuid.uuid4().hex[:6]}"
    # What shared.inbox writes when it gives up on a record.
    await bus.publish([OutgoingRecord(
        topic=dlq_topic(group), key=original.key, value=original.value,
        headers=(*original.headers, ("dlq-consumer-group", group.encode()),
                 ("dlq-original-topic", topic.encode()), ("dlq-original-partition", b"0"),
                 ("dlq-original-offset", b"7"), ("dlq-attempts", b"5"),
                 ("dlq-error-type", b"ValueError"), ("dlq-error", b"bad\nseverity")))])

    code, out = await _cli("list", "--group", group, "--env-prefix", "DLQTEST_",
                           env=service_env)
    assert code == 0, out
    assert f"{event.get_id()}\t{CapaOpened.event_type}\tattempts=5\tValueError: bad severity" in out

    code, out = await _cli("replay", "--group", group, "--event-id", "no-such-event", *where)
    assert code == 1 and "no-such-event" in out, out
    code, out = await _cli("replay", "--group", group, *where)
    assert code == 0 and f"-> {topic}" in out, out

    (replayed,) = await _read_topic(bus, topic, expect=1)
    assert replayed.key == original.key and replayed.value == original.value
    assert dict(replayed.headers).keys() == {"content-type", dlq.REPLAYED_AT}
    code, out = await _cli("list", "--group", group, *where)
    assert code == 0 and event.get_id() not in out, out
