"""Reading one topic only up to where it ended when the read began.

A consumer group's subscription never ends, and "caught up" is a guess on a
topic that keeps growing. The DLQ tool (shared.dlq) must end, and its input
grows while it works: a replayed record that fails again comes straight back
to the DLQ (an unreadable one in well under a second), so reading "until
quiet" once replayed the same record ~51,000 times. A snapshot fixes the end
of every partition before it reads anything, and reads nothing past it.

It never joins a consumer group. Given a group it starts at that group's
committed offsets and can commit to them; without one it reads from the
start and leaves nothing behind on the broker.
"""

from typing import Protocol

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import OffsetAndMetadata
from sqlalchemy import func, inspect, select
from sqlalchemy.engine import Connection
from typing_extensions import override

from shared.bus.base import Bus, ReceivedRecord
from shared.bus.kafka import KafkaBus
from shared.bus.sql import SqlBus, SqlSubscription, _decode_headers, consumer_offsets, event_log


class EventLogMissing(RuntimeError):
    """The sql bus's database has no event log: the wrong database, or one
    that was never migrated."""


class TopicSnapshot(Protocol):
    async def start(self) -> None:
        """Fixes the end of every partition; call before anything else."""
        ...

    @property
    def done(self) -> bool:
        """Every partition was read up to its end."""
        ...

    @override
    async def fetch(self, *, max_records: int, timeout: float) -> list[ReceivedRecord]:
        """The next records before the end, oldest first per partition."""
        ...

    async def commit(self, record: ReceivedRecord) -> None:
        """Marks ``record`` and those before it in its partition done for the group."""
        ...

    async def stop(self) -> None: ...


def open_snapshot(bus: Bus, *, topic: str, group: str | None) -> TopicSnapshot:
    if isinstance(bus, KafkaBus):
        return KafkaTopicSnapshot(bus, topic=topic, group=group)
    if isinstance(bus, SqlBus):
        return SqlTopicSnapshot(bus, topic=topic, group=group)
    raise TypeError(f"no snapshot reads on {type(bus).__name__}")


class KafkaTopicSnapshot:
    def __init__(self, bus: KafkaBus, *, topic: str, group: str | None) -> None:
        self._bus = bus
        self._topic = bus.namespace + topic
        self._has_group = group is not None
        # Partitions are assigned by hand (no group membership, no rebalance);
        # the group id only locates the committed offsets.
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bus.bootstrap_servers, client_id=f"{bus.client_id}-snapshot",
            group_id=None if group is None else bus.namespace + group,
            enable_auto_commit=False, auto_offset_reset="earliest",
            isolation_level="read_committed")
        self._end: dict[TopicPartition, int] = {}
        self._pending: set[TopicPartition] = set()

    async def start(self) -> None:
        await self._consumer.start()
        partitions = await self._partitions()
        if not partitions:
            return  # no such topic (yet): nothing to read
        self._consumer.assign(partitions)
        self._end = await self._consumer.end_offsets(partitions)
        self._pending = set(partitions)
        await self._settle()

    async def _partitions(self) -> list[TopicPartition]:
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bus.bootstrap_servers,
                                    client_id=f"{self._bus.client_id}-snapshot")
        await admin.start()
        try:
            # Every topic: asking for this one by name would create it on a
            # broker that auto-creates topics.
            described = await admin.describe_topics()
        finally:
            await admin.close()
        return [TopicPartition(self._topic, p["partition"])
                for t in described if t["topic"] == self._topic for p in t["partitions"]]

    async def _settle(self) -> None:
        for tp in list(self._pending):
            # The position, not the last record: with read_committed, offsets
            # of transaction markers are passed over without a record.
            if await self._consumer.position(tp) >= self._end[tp]:
                self._pending.discard(tp)
                self._consumer.pause(tp)

    @property
    def done(self) -> bool:
        return not self._pending

    @override
    async def fetch(self, *, max_records: int, timeout: float) -> list[ReceivedRecord]:
        if not self._pending:
            return []
        batches = await self._consumer.getmany(*self._pending, timeout_ms=int(timeout * 1000),
                                               max_records=max_records)
        records = [
            ReceivedRecord(topic=m.topic.removeprefix(self._bus.namespace),
                           partition=m.partition, offset=m.offset, key=(m.key or b"").decode(),
                           value=m.value or b"", headers=tuple(m.headers or ()))
            for tp, messages in batches.items() for m in messages if m.offset < self._end[tp]
        ]
        await self._settle()
        return records

    async def commit(self, record: ReceivedRecord) -> None:
        if not self._has_group:
            raise RuntimeError("a snapshot without a group has nothing to commit to")
        tp = TopicPartition(self._bus.namespace + record.topic, record.partition)
        await self._consumer.commit({tp: OffsetAndMetadata(record.offset + 1, "")})

    async def stop(self) -> None:
        await self._consumer.stop()


def _has_event_log(conn: Connection) -> bool:
    tables = inspect(conn)
    return all(tables.has_table(t.name) for t in (event_log, consumer_offsets))


class SqlTopicSnapshot:
    """One partition per topic; offsets are event-log positions."""

    def __init__(self, bus: SqlBus, *, topic: str, group: str | None) -> None:
        self._bus = bus
        self._topic = topic
        self._group = group
        self._after = 0
        self._end = 0

    async def start(self) -> None:
        async with self._bus.engine.connect() as conn:
            if not await conn.run_sync(_has_event_log):
                raise EventLogMissing(f"{self._bus.engine.url.render_as_string()} has no "
                                      "event_log table")
            self._end = (await conn.execute(select(func.max(event_log.c.position)).where(
                event_log.c.topic == self._topic))).scalar() or 0
            if self._group is not None:
                self._after = (await conn.execute(select(consumer_offsets.c.position).where(
                    consumer_offsets.c.consumer_group == self._group,
                    consumer_offsets.c.topic == self._topic))).scalar() or 0

    @property
    def done(self) -> bool:
        return self._after >= self._end

    @override
    async def fetch(self, *, max_records: int, timeout: float) -> list[ReceivedRecord]:
        if self.done:
            return []
        query = select(event_log).where(
            event_log.c.topic == self._topic, event_log.c.position > self._after,
            event_log.c.position <= self._end).order_by(event_log.c.position).limit(max_records)
        async with self._bus.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        # Positions below the end never appear later: appends are visible in
        # position order (see shared.bus.sql).
        self._after = rows[-1].position if rows else self._end
        records = [ReceivedRecord(topic=row.topic, partition=0, offset=row.position,
                                  key=row.key, value=row.value,
                                  headers=_decode_headers(row.headers))
                   for row in rows]
        return records

    async def commit(self, record: ReceivedRecord) -> None:
        if self._group is None:
            raise RuntimeError("a snapshot without a group has nothing to commit to")
        # The group's offsets table, written as its subscription writes it.
        await SqlSubscription(bus=self._bus, group=self._group,
                              topics=[self._topic]).commit(record)

    async def stop(self) -> None:
        return None
