"""Tables of the CAPA service (its own database)."""

from datetime import datetime
from uuid import UUID, uuid4

from sqlalchemy import String
from sqlmodel import Field, SQLModel

from shared.db import UTCDateTime
from shared.events.catalog import Severity
from shared.inbox import ProcessedEvent
from shared.outbox import OutboxMessage

from .domain import CapaStatus

__all__ = ["Capa", "OutboxMessage", "ProcessedEvent", "metadata"]


class Capa(SQLModel, table=True):
    __tablename__ = "capas"

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    number: str = Field(max_length=32, unique=True)
    title: str = Field(max_length=300)
    # None for a preventive CAPA raised from a risk rather than an NC.
    nonconformity_id: UUID | None = Field(default=None, unique=True)
    severity: Severity = Field(sa_type=String(16))
    status: CapaStatus = Field(default=CapaStatus.open, sa_type=String(16))
    opened_at: datetime = Field(sa_type=UTCDateTime)


metadata = SQLModel.metadata
