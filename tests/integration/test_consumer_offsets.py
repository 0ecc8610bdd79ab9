"""The consumer commits its offsets once per fetched batch, not once per record.

Runs on SQLite + sql bus, PostgreSQL + sql bus and PostgreSQL + Kafka.
"""

import dataclasses
import json
import uuid
from collections.abc import Sequence
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from shared.bus.base import OutgoingRecord, ReceivedRecord, Subscription
from shared.bus.kafka import KafkaSubscription
from shared.events.catalog import CapaOpened
from shared.events.envelope import to_record
from shared.inbox import ConsumedEvent, EventConsumer
from tests.conftest import eventually
from tests.integration.conftest import Pipeline, capa_opened_event, running


def _unhandled(record: OutgoingRecord) -> OutgoingRecord:
    event = json.loads(record.value)
    event["type"] = "capaflow.test.unhandled.v1"
    return dataclasses.replace(record, value=json.dumps(event).encode())


class _Spy:
    """Counts, on the subscriptions a consumer opens, the fetched batches and the
    commits that reach the broker or the offsets table."""

    def __init__(self) -> None:
        self.batches = 0
        self.records = 0
        self.record_commits = 0
        self.broker_commits = 0

    def watch(self, sub: Subscription) -> Subscription:
        fetch, commit = sub.fetch, sub.commit

        async def counted_fetch(*, max_records: int, timeout: float) -> list[ReceivedRecord]:
            records = await fetch(max_records=max_records, timeout=timeout)
            self.batches += bool(records)
            self.records += len(records)
            return records

        async def counted_commit(record: ReceivedRecord) -> None:
            self.record_commits += 1
            await commit(record)

        # The lowest call that goes out: aiokafka's OffsetCommit, or the SQL upsert.
        target: Any = sub._consumer if isinstance(sub, KafkaSubscription) else sub
        name = "commit" if isinstance(sub, KafkaSubscription) else "_commit"
        outgoing = getattr(target, name)

        async def counted_outgoing(*args: Any, **kwargs: Any) -> None:
            self.broker_commits += 1
            await outgoing(*args, **kwargs)

        sub.fetch = counted_fetch  # type: ignore[method-assign]
        sub.commit = counted_commit  # type: ignore[method-assign]
        setattr(target, name, counted_outgoing)
        return sub


async def test_offsets_are_committed_once_per_fetched_batch(pipeline: Pipeline) -> None:
    bus = pipeline.bus_under_test.make_bus()
    topic = await pipeline.bus_under_test.new_topic()
    capas = [uuid.uuid4() for _ in range(6)]
    records = [to_record(capa_opened_event(capas[i % 6], title=f"step {i}"), topic)
               for i in range(60)]
    # Every third record has no handler in this group: ignored, and committed with its batch.
    await bus.publish([_unhandled(r) if i % 3 == 2 else r for i, r in enumerate(records)])

    spy = _Spy()
    subscribe = bus.subscribe

    def spied_subscribe(*, group: str, topics: Sequence[str]) -> Subscription:
        return spy.watch(subscribe(group=group, topics=topics))

    bus.subscribe = spied_subscribe  # type: ignore[method-assign]
    handled: list[str] = []

    async def handler(session: AsyncSession, event: ConsumedEvent[CapaOpened]) -> None:
        handled.append(event.id)

    group = f"capa-{uuid.uuid4().hex[:6]}"
    consumer = EventConsumer(group=group, topics=[topic], sessions=pipeline.sessions, bus=bus,
                             handlers={CapaOpened: handler}, batch_size=100)
    async with running(consumer):
        async def all_fetched_and_handled() -> bool:
            return spy.records == 60 and len(handled) == 40
        await eventually(all_fetched_and_handled, message="60 records through the consumer")
    assert spy.record_commits == 0
    # One round trip per batch (and none at stop: nothing was left uncommitted).
    assert spy.broker_commits == spy.batches < 60, vars(spy)

    # The batch commits covered every partition: a restarted member gets nothing.
    bus.subscribe = subscribe  # type: ignore[method-assign]
    restarted = bus.subscribe(group=group, topics=[topic])
    partitions = 3 if pipeline.bus_under_test.kind == "kafka" else 1
    redelivered: list[ReceivedRecord] = []
    await restarted.start()
    try:
        async def caught_up() -> bool:
            redelivered.extend(await restarted.fetch(max_records=100, timeout=0.2))
            behind = await restarted.lag()
            return len(behind) == partitions and not any(behind.values())
        await eventually(caught_up, interval=0, message="the restarted member caught up")
    finally:
        await restarted.stop()
    assert redelivered == []
