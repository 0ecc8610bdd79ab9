"""Transactional outbox: events are rows written in the use case's transaction;
the relay publishes them afterwards and marks them sent only once acknowledged.
"""

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from cloudevents.core.v1.event import CloudEvent
from sqlalchemy import Column, Index, LargeBinary, Text, func, text, update
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.bus.base import Bus, OutgoingRecord
from shared.db import WRITES, SessionFactory, UTCDateTime, transaction, utcnow
from shared.events.catalog import EventData
from shared.events.envelope import Causation, new_event, to_record
from shared.observability import EVENTS_PUBLISHED, OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE

log = logging.getLogger(__name__)


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_unsent", "sent_at", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=36, unique=True)
    event_type: str = Field(max_length=255)
    topic: str = Field(max_length=255)
    key: str = Field(max_length=255)
    value: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    headers: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


def record_event(session: AsyncSession, *, service: str, data: EventData,
                 causation: Causation | None = None) -> CloudEvent:
    """Add an event to the caller's transaction; it is published only if that commits."""
    event = new_event(service=service, data=data, causation=causation)
    enqueue(session, event, topic=data.topic)
    return event


def enqueue(session: AsyncSession, event: CloudEvent, *, topic: str) -> None:
    record = to_record(event, topic)
    session.add(OutboxMessage(
        event_id=event.get_id(), event_type=event.get_type(), topic=record.topic,
        key=record.key, value=record.value,
        headers=json.dumps([[k, v.decode()] for k, v in record.headers]),
        created_at=utcnow(),
    ))


class OutboxRelay:
    """Publishes unsent outbox rows in id order, a batch at a time.

    On PostgreSQL any number of replicas may run a relay: an advisory lock
    elects one per round. A crash between publish and mark-sent republishes
    the batch; consumers' inboxes make that harmless.
    """

    def __init__(self, *, service: str, sessions: SessionFactory, bus: Bus,
                 batch_size: int = 200, poll_interval: float = 0.1,
                 after_publish: Callable[[list[int]], Awaitable[None]] | None = None) -> None:
        self._service = service
        self._sessions = sessions
        self._bus = bus
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        # Test seam: lets a test crash the relay between publish and mark-sent.
        self._after_publish = after_publish

    async def relay_once(self) -> int:
        """Publish one batch; returns how many rows were sent."""
        async with self._sessions() as session:
            if session.get_bind().dialect.name == "postgresql":
                return await self._relay_as_leader(session)
        # SQLite: one process owns the file, so no leader is needed; and holding
        # its single write lock while the broker is slow would stall every writer.
        async with self._sessions() as session:
            rows = await self._unsent(session)
        if not rows:
            return 0
        await self._publish(rows)
        async with transaction(self._sessions) as session:
            await self._mark_sent(session, rows)
        return self._count(rows)

    async def _relay_as_leader(self, session: AsyncSession) -> int:
        # Replicas of a service share its database; the transaction-scoped
        # advisory lock lets one relay at a time publish, so batches never
        # interleave and per-aggregate order holds. The others skip this round.
        async with session.begin():
            await session.connection(execution_options=WRITES)
            leader = (await session.exec(text(  # type: ignore[call-overload]
                "SELECT pg_try_advisory_xact_lock(hashtext(:key))").bindparams(
                    key=f"capaflow-outbox-relay:{self._service}"))).scalar()
            if not leader:
                return 0
            rows = await self._unsent(session)
            if not rows:
                return 0
            await self._publish(rows)
            await self._mark_sent(session, rows)
        return self._count(rows)

    async def _unsent(self, session: AsyncSession) -> list[OutboxMessage]:
        return list((await session.exec(
            select(OutboxMessage).where(col(OutboxMessage.sent_at).is_(None))
            .order_by(col(OutboxMessage.id)).limit(self._batch_size))).all())

    async def _publish(self, rows: list[OutboxMessage]) -> None:
        await self._bus.publish([
            OutgoingRecord(topic=r.topic, key=r.key, value=r.value,
                           headers=tuple((k, v.encode()) for k, v in json.loads(r.headers)))
            for r in rows
        ])
        if self._after_publish is not None:
            await self._after_publish([r.id for r in rows if r.id is not None])

    async def _mark_sent(self, session: AsyncSession, rows: list[OutboxMessage]) -> None:
        ids = [r.id for r in rows if r.id is not None]
        await session.exec(update(OutboxMessage)  # type: ignore[call-overload]
                           .where(col(OutboxMessage.id).in_(ids)).values(sent_at=utcnow()))

    def _count(self, rows: list[OutboxMessage]) -> int:
        for r in rows:
            EVENTS_PUBLISHED.labels(self._service, r.event_type).inc()
        return len(rows)

    async def measure_backlog(self) -> tuple[int, float]:
        async with self._sessions() as session:
            count, oldest = (await session.exec(
                select(func.count(), func.min(OutboxMessage.created_at))
                .where(col(OutboxMessage.sent_at).is_(None)))).one()
        # min() keeps the column's UTCDateTime type, so ``oldest`` is aware.
        age = max(0.0, (utcnow() - oldest).total_seconds()) if oldest is not None else 0.0
        OUTBOX_BACKLOG.labels(self._service).set(count)
        OUTBOX_OLDEST_AGE.labels(self._service).set(age)
        return int(count), age

    async def run(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                sent = await self.relay_once()
                await self.measure_backlog()
                failures = 0
            except Exception:
                failures += 1
                log.warning("outbox relay failed; retrying", exc_info=True,
                            extra={"service": self._service, "failures": failures})
                sent = 0
            if sent == 0 or failures:
                delay = min(5.0, self._poll_interval * 2 ** min(failures, 6))
                try:
                    await asyncio.wait_for(stop.wait(), timeout=delay)
                except TimeoutError:
                    pass
