"""Tables of the notifications service (its own database)."""

from datetime import datetime
from uuid import UUID, uuid4

from sqlalchemy import String
from sqlmodel import Field, SQLModel

from shared.db import UTCDateTime
from shared.inbox import ProcessedEvent
from shared.outbox import OutboxMessage

from .domain import Channel, DeliveryMode

__all__ = ["OutboxMessage", "ProcessedEvent", "Subscription", "metadata"]


class Subscription(SQLModel, table=True):
    __tablename__ = "subscriptions"

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    owner: str = Field(max_length=255)
    channel: Channel = Field(sa_type=String(16))
    target: str = Field(max_length=2000)
    mode: DeliveryMode = Field(default=DeliveryMode.immediate, sa_type=String(16))
    active: bool = True
    created_at: datetime = Field(sa_type=UTCDateTime)


metadata = SQLModel.metadata
