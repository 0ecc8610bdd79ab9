"""The relay's wake-up on commit, its pipelined batches and its failure handling.

Runs on SQLite + sql bus, PostgreSQL + sql bus and PostgreSQL + Kafka.
"""

import asyncio
import uuid
from collections.abc import Awaitable, Sequence

import pytest
from sqlmodel import col, select

from shared.bus.base import Bus, OutgoingRecord
from shared.events.envelope import from_record
from shared.outbox import OutboxMessage, enqueue
from shared.relay import PASS_BATCHES, OutboxRelay
from tests.conftest import eventually
from tests.integration.conftest import Pipeline, capa_opened_event, read_all, relay_all, running


async def _unsent_ids(pipeline: Pipeline) -> list[int]:
    async with pipeline.sessions() as session:
        return list((await session.exec(
            select(OutboxMessage.id).where(col(OutboxMessage.sent_at).is_(None))
            .order_by(col(OutboxMessage.id)))).all())  # type: ignore[arg-type]


async def test_a_commit_wakes_the_relay_long_before_its_poll_interval(
        pipeline: Pipeline) -> None:
    bus = pipeline.bus_under_test.make_bus()
    topic = await pipeline.bus_under_test.new_topic()
    relay = OutboxRelay(service="capa", sessions=pipeline.sessions, bus=bus, poll_interval=600)
    events = []
    async with running(relay):
        for step in range(3):
            event = capa_opened_event(uuid.uuid4(), title=f"step {step}")
            events.append(event)
            async with pipeline.sessions() as session, session.begin():
                if step == 2:  # rows added inside a savepoint wake only on the outer commit
                    async with session.begin_nested():
                        enqueue(session, event, topic=topic)
                else:
                    enqueue(session, event, topic=topic)

            # After the first event the relay has drained the outbox and waits
            # for a wake-up or 600 s; without one, this deadline fails.
            async def sent() -> bool:
                return await _unsent_ids(pipeline) == []
            await eventually(sent, timeout=15, interval=0.02,
                             message=f"event {step} relayed after its commit")
    got = await read_all(bus, topic, expect=3)
    assert sorted(from_record(r).get_id() for r in got) == sorted(e.get_id() for e in events)


class _FailingBus:
    """A real bus whose ``fail_at``-th batch fails: at send, or after the
    records went out and only the acknowledgement is lost."""

    def __init__(self, bus: Bus, *, fail_at: int, how: str) -> None:
        self._bus = bus
        self._fail_at = fail_at
        self._how = how
        self.batches = 0

    async def publish(self, records: Sequence[OutgoingRecord]) -> None:
        await (await self.begin_publish(records))

    async def begin_publish(self, records: Sequence[OutgoingRecord], *,
                            after: Awaitable[None] | None = None) -> Awaitable[None]:
        self.batches += 1
        if self.batches == self._fail_at and self._how == "send":
            raise ConnectionError("broker went away while sending")
        acks = await self._bus.begin_publish(records, after=after)
        if self.batches != self._fail_at:
            return acks

        async def lost() -> None:
            await acks
            raise TimeoutError("acknowledgement lost")
        return asyncio.ensure_future(lost())


@pytest.mark.parametrize("how", ["send", "ack"])
async def test_a_failed_batch_leaves_it_and_all_after_it_unsent_and_in_order(
        pipeline: Pipeline, how: str) -> None:
    bus = pipeline.bus_under_test.make_bus()
    topic = await pipeline.bus_under_test.new_topic()
    capas = [uuid.uuid4() for _ in range(4)]
    async with pipeline.sessions() as session, session.begin():
        for step in range(30):
            for capa_id in capas:
                enqueue(session, capa_opened_event(capa_id, title=f"step {step}"), topic=topic)
    all_ids = await _unsent_ids(pipeline)
    assert len(all_ids) == 120

    # Batches of 10; the 4th fails while the 5th may already be on its way.
    failing = _FailingBus(bus, fail_at=4, how=how)
    relay = OutboxRelay(service="capa", sessions=pipeline.sessions,
                        bus=failing, batch_size=10)  # type: ignore[arg-type]
    with pytest.raises((ConnectionError, TimeoutError)):
        await relay.relay_once()
    assert failing.batches == (4 if how == "send" else 5)
    # The three acknowledged batches stay marked; nothing from the failed one on is.
    assert await _unsent_ids(pipeline) == all_ids[30:]

    assert await relay_all(OutboxRelay(service="capa", sessions=pipeline.sessions, bus=bus,
                                        batch_size=10)) == 90
    got = await read_all(bus, topic, expect=120)
    for capa_id in capas:
        titles = [from_record(r).get_data()["title"] for r in got  # type: ignore[index]
                  if r.key == str(capa_id)]
        # A lost acknowledgement republishes what did arrive: drop repeats, keep order.
        assert list(dict.fromkeys(titles)) == [f"step {i}" for i in range(30)]
    assert len(got) == (120 if how == "send" else 140)


async def test_a_pass_is_bounded_and_the_next_one_carries_on(pipeline: Pipeline) -> None:
    bus = pipeline.bus_under_test.make_bus()
    topic = await pipeline.bus_under_test.new_topic()
    capa_id = uuid.uuid4()
    total = 3 * PASS_BATCHES + 2
    async with pipeline.sessions() as session, session.begin():
        for step in range(total):
            enqueue(session, capa_opened_event(capa_id, title=f"step {step}"), topic=topic)

    relay = OutboxRelay(service="capa", sessions=pipeline.sessions, bus=bus, batch_size=3)
    assert await relay.relay_once() == 3 * PASS_BATCHES
    assert await relay.relay_once() == 2
    assert await relay.relay_once() == 0
    got = await read_all(bus, topic, expect=total)
    assert [from_record(r).get_data()["title"] for r in got] == [  # type: ignore[index]
        f"step {i}" for i in range(total)]


class _CountingRelay(OutboxRelay):
    passes = 0
    measurements = 0

    async def relay_once(self) -> int:
        self.passes += 1
        return await super().relay_once()

    async def measure_backlog(self) -> tuple[int, float]:
        self.measurements += 1
        return await super().measure_backlog()


async def test_the_backlog_is_measured_at_most_once_a_second(pipeline: Pipeline) -> None:
    bus = pipeline.bus_under_test.make_bus()
    relay = _CountingRelay(service="capa", sessions=pipeline.sessions, bus=bus,
                           poll_interval=0.01)
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with running(relay):
        async def many_passes() -> bool:
            return relay.passes >= 30
        await eventually(many_passes, message="30 idle relay passes")
        elapsed = loop.time() - started
        measurements = relay.measurements
    assert 1 <= measurements <= 2 + elapsed, (measurements, relay.passes, elapsed)
