"""Tables of the management review (ISO 9001 9.3): quality objectives and review
meetings with their decisions. Kept beside models.py, which imports them, so
Alembic's metadata holds them too."""

from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import JSON, Column, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from shared.db import UTCDateTime


class QualityObjective(SQLModel, table=True):
    """A measurable target over one metric of domain.objectives.METRICS."""

    __tablename__ = "capa_quality_objectives"

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    title: str = Field(max_length=300)
    metric: str = Field(sa_type=String(48))
    # Only for metrics that take one (capas_opened_per_week).
    source: str | None = Field(default=None, max_length=32)
    target: float
    deadline: date
    period_days: int = 30
    owner: str | None = Field(default=None, max_length=255)
    version: int = 1
    created_by: str = Field(max_length=255)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    # The last on/off-track state the watch job recorded, with the row locked, so a
    # transition is announced once even with several replicas (service.objective_watch).
    track_state: str | None = Field(default=None, sa_type=String(16))
    track_changed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ManagementReviewMeeting(SQLModel, table=True):
    """A review meeting: who attended and which pack (period + SHA-256) they saw."""

    __tablename__ = "capa_management_reviews"

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    held_on: date
    attendees: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    pack_since: datetime = Field(sa_type=UTCDateTime)
    pack_until: datetime = Field(sa_type=UTCDateTime)
    pack_sha256: str = Field(max_length=64)
    notes: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    recorded_by: str = Field(max_length=255)
    recorded_at: datetime = Field(sa_type=UTCDateTime)


class ReviewDecision(SQLModel, table=True):
    """A decision of a review; the CAPA or action it opened links the loop back."""

    __tablename__ = "capa_review_decisions"
    __table_args__ = (UniqueConstraint("review_id", "sequence",
                                       name="uq_capa_review_decisions_sequence"),)

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    review_id: UUID = Field(index=True)
    sequence: int
    text: str = Field(sa_column=Column(Text, nullable=False))
    owner: str = Field(max_length=255)
    due_date: date
    capa_id: UUID | None = Field(default=None, index=True)
    action_id: UUID | None = None


def decision_fields(row: ReviewDecision) -> dict[str, Any]:
    return {"id": row.id, "sequence": row.sequence, "text": row.text, "owner": row.owner,
            "due_date": row.due_date, "capa_id": row.capa_id, "action_id": row.action_id}
