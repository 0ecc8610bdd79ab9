"""Transactional outbox: events are rows written in the use case's transaction;
the relay (:mod:`shared.relay`) publishes them afterwards and marks them sent
only once acknowledged.

A commit that added outbox rows wakes the relays of this process at once
(see :func:`enqueue`); their poll interval is only the fallback for rows
committed by other processes, such as replicas whose relay was not the leader.
"""

import json
import logging
from datetime import datetime

from cloudevents.core.v1.event import CloudEvent
from sqlalchemy import (
    Column,
    Index,
    LargeBinary,
    Text,
)
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import (
    UTCDateTime,
    signal_on_commit,
    utcnow,
)
from shared.events.catalog import EventData
from shared.events.envelope import Causation, new_event, to_record

log = logging.getLogger(__name__)

# shared.db commit-signal channel: a transaction added outbox rows.
RELAY_CHANNEL = "outbox"


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
    # The relays of this process start on it once the transaction commits.
    signal_on_commit(session, RELAY_CHANNEL)
