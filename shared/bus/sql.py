"""The embedded bus: an append-only event-log table with per-group offsets.

It lets ``make run`` work with nothing but Python, and serves a small
single-host install. Deliberately not a Kafka replacement: one partition per
topic, one active member per consumer group, polling reads.
"""

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from contextlib import asynccontextmanager

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    and_,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from typing_extensions import override

from shared.bus.base import OutgoingRecord, PartlyRefused, ReceivedRecord, RecordRefused
from shared.db import WRITES, UTCDateTime, create_engine, utcnow

log = logging.getLogger(__name__)

metadata = MetaData()

event_log = Table(
    "event_log",
    metadata,
    # BIGINT on PostgreSQL, INTEGER on SQLite (only INTEGER PRIMARY KEY is a rowid alias).
    Column("position", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True,
           autoincrement=True),
    Column("topic", String(255), nullable=False),
    Column("key", String(255), nullable=False),
    Column("value", LargeBinary, nullable=False),
    Column("headers", Text, nullable=False),
    Column("appended_at", UTCDateTime, nullable=False),
    Index("ix_event_log_topic", "topic", "position"),
)

consumer_offsets = Table(
    "consumer_offsets",
    metadata,
    Column("consumer_group", String(255), primary_key=True),
    Column("topic", String(255), primary_key=True),
    # The last position the group has processed.
    Column("position", BigInteger, nullable=False),
)

# Appends take this transaction-scoped lock on PostgreSQL so positions become
# visible in commit order; otherwise a reader could pass over a position whose
# transaction commits late. SQLite serialises writers already.
_APPEND_LOCK_ID = 0x0CAFF10


@asynccontextmanager
async def _writing(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A write transaction (BEGIN IMMEDIATE on SQLite, see shared.db)."""
    async with engine.connect() as conn:
        conn = await conn.execution_options(**WRITES)
        async with conn.begin():
            yield conn


def _encode_headers(headers: Sequence[tuple[str, bytes]]) -> str:
    return json.dumps([[k, v.decode("latin-1")] for k, v in headers])


def _decode_headers(raw: str) -> tuple[tuple[str, bytes], ...]:
    return tuple((k, v.encode("latin-1")) for k, v in json.loads(raw))


class SqlBus:
    def __init__(self, *, url: str, poll_interval: float = 0.05,
                 max_record_bytes: int | None = None) -> None:
        self._url = url
        self._poll_interval = poll_interval
        # Like a broker's message size limit: larger records are refused (not
        # appended) while the rest of the call is. None: no limit.
        self._max_record_bytes = max_record_bytes
        self._engine: AsyncEngine | None = None

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            self._engine = create_engine(self._url, pool_size=5)
        return self._engine

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    async def publish(self, records: Sequence[OutgoingRecord]) -> None:
        refused = self._refused(records)
        await self._append([r for i, r in enumerate(records) if i not in refused])
        if refused:
            raise PartlyRefused(refused, settled=len(records))

    def _refused(self, records: Sequence[OutgoingRecord]) -> dict[int, BaseException]:
        limit = self._max_record_bytes
        if limit is None:
            return {}
        sizes = ((i, len(r.value) + len(r.key.encode()) + len(_encode_headers(r.headers)))
                 for i, r in enumerate(records))
        return {i: RecordRefused(f"the record is {size} bytes, over this bus's limit "
                                 f"of {limit}") for i, size in sizes if size > limit}

    async def _append(self, records: Sequence[OutgoingRecord]) -> None:
        if not records:
            return
        async with _writing(self.engine) as conn:
            if conn.dialect.name == "postgresql":
                await conn.execute(text("SELECT pg_advisory_xact_lock(:id)"),
                                   {"id": _APPEND_LOCK_ID})
            now = utcnow()
            # One row at a time keeps positions in list order on every dialect.
            for r in records:
                await conn.execute(event_log.insert().values(
                    topic=r.topic, key=r.key, value=r.value,
                    headers=_encode_headers(r.headers), appended_at=now))

    @override
    async def begin_publish(self, records: Sequence[OutgoingRecord], *,
                            after: Awaitable[None] | None = None) -> Awaitable[None]:
        # Appending is durable once its transaction commits: nothing to pipeline,
        # and an earlier call has always completed.
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        try:
            await self.publish(records)
        except PartlyRefused as refused:
            # Settled like an acknowledgement: the caller learns it by awaiting.
            done.set_exception(refused)
        else:
            done.set_result(None)
        return done

    def subscribe(self, *, group: str, topics: Sequence[str]) -> "SqlSubscription":
        return SqlSubscription(bus=self, group=group, topics=list(topics))

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def poll_interval(self) -> None:
        await asyncio.sleep(self._poll_interval)


class SqlSubscription:
    def __init__(self, *, bus: SqlBus, group: str, topics: list[str]) -> None:
        self._bus = bus
        self._group = group
        self._topics = topics
        self._fetched: dict[str, int] = {}
        # Last handled position per topic, not committed yet.
        self._handled: dict[str, int] = {}

    async def start(self) -> None:
        async with self._bus.engine.connect() as conn:
            rows = await conn.execute(
                select(consumer_offsets.c.topic, consumer_offsets.c.position).where(
                    consumer_offsets.c.consumer_group == self._group,
                    consumer_offsets.c.topic.in_(self._topics)))
            committed = {topic: position for topic, position in rows}
        self._fetched = {t: committed.get(t, 0) for t in self._topics}

    async def stop(self) -> None:
        try:
            await self.commit_handled()
        except Exception:
            # Not committed means redelivered after a restart; the inbox makes
            # that a no-op.
            log.warning("committing handled positions on stop failed", exc_info=True)

    async def fetch(self, *, max_records: int, timeout: float) -> list[ReceivedRecord]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            records = await self._read(max_records)
            if records or loop.time() >= deadline:
                return records
            await self._bus.poll_interval()

    async def _read(self, max_records: int) -> list[ReceivedRecord]:
        after = or_(*(and_(event_log.c.topic == t, event_log.c.position > p)
                      for t, p in self._fetched.items()))
        query = select(event_log).where(after).order_by(event_log.c.position).limit(max_records)
        async with self._bus.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        records = [
            ReceivedRecord(topic=row.topic, partition=0, offset=row.position, key=row.key,
                           value=row.value, headers=_decode_headers(row.headers))
            for row in rows
        ]
        for r in records:
            self._fetched[r.topic] = r.offset
        return records

    async def lag(self) -> dict[tuple[str, int], int]:
        behind: dict[tuple[str, int], int] = {}
        async with self._bus.engine.connect() as conn:
            for topic, position in self._fetched.items():
                count = (await conn.execute(select(func.count()).select_from(event_log).where(
                    event_log.c.topic == topic, event_log.c.position > position))).scalar()
                behind[(topic, 0)] = int(count or 0)
        return behind

    async def commit(self, record: ReceivedRecord) -> None:
        await self._commit({record.topic: record.offset})

    def mark_handled(self, record: ReceivedRecord) -> None:
        self._handled[record.topic] = record.offset

    async def commit_handled(self) -> None:
        handled, self._handled = self._handled, {}
        if handled:
            await self._commit(handled)

    async def _commit(self, positions: Mapping[str, int]) -> None:
        async with _writing(self._bus.engine) as conn:
            insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
            for topic, position in positions.items():
                stmt = insert(consumer_offsets).values(
                    consumer_group=self._group, topic=topic, position=position)
                await conn.execute(stmt.on_conflict_do_update(
                    index_elements=["consumer_group", "topic"],
                    set_={"position": stmt.excluded.position}))
