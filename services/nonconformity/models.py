"""Tables of the nonconformity service (its own database)."""

from datetime import datetime
from uuid import UUID, uuid4

from sqlalchemy import String
from sqlmodel import Field, SQLModel

from shared.db import UTCDateTime
from shared.events.catalog import Severity
from shared.inbox import ProcessedEvent
from shared.outbox import OutboxMessage

from .domain import NonconformityStatus

__all__ = ["Nonconformity", "OutboxMessage", "ProcessedEvent", "metadata"]


class Nonconformity(SQLModel, table=True):
    __tablename__ = "nonconformities"

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    number: str = Field(max_length=32, unique=True)
    title: str = Field(max_length=300)
    # Enums stored as their plain values (VARCHAR), not database enum types.
    severity: Severity = Field(sa_type=String(16))
    status: NonconformityStatus = Field(default=NonconformityStatus.reported,
                                        sa_type=String(16))
    created_at: datetime = Field(sa_type=UTCDateTime)


metadata = SQLModel.metadata
