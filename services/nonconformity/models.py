"""Tables of the nonconformity service (its own database)."""

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import JSON, Column, Index, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from shared.db import UTCDateTime
from shared.events.base import Severity
from shared.evidence.store import EvidenceAttachment, EvidenceBlob
from shared.idempotency import IdempotencyRecord
from shared.inbox import ProcessedEvent
from shared.outbox import OutboxMessage

from .domain import CapaLink, NonconformityStatus

__all__ = ["EvidenceAttachment", "EvidenceBlob", "IdempotencyRecord", "Nonconformity",
           "NonconformityHistory", "NonconformityTag", "NumberSequence", "Occurrence",
           "OutboxMessage", "ProcessedEvent", "ReceivedWebhook", "metadata"]


class Nonconformity(SQLModel, table=True):
    __tablename__ = "nonconformities"
    __table_args__ = (
        # A second report of the same ticket returns the first NC.
        UniqueConstraint("source", "external_ref", name="uq_nc_source_external_ref"),
        Index("ix_nc_created", "created_at", "id"),
        Index("ix_nc_fingerprint", "fingerprint"),
        Index("ix_nc_recurrence", "recurrence_key", "created_at"),
    )

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    number: str = Field(max_length=32, unique=True)
    title: str = Field(max_length=300)
    description: str | None = Field(default=None, sa_column=Column(Text))
    source: str = Field(max_length=16)
    # Enums stored as their plain values (VARCHAR), not database enum types.
    severity: Severity = Field(sa_type=String(16))
    category: str | None = Field(default=None, max_length=100)
    affected_item: str | None = Field(default=None, max_length=200)
    # The supplier whose product or service caused it (shared.supplier_code form).
    supplier_code: str | None = Field(default=None, max_length=32)
    external_ref: str | None = Field(default=None, max_length=200)
    reporter: str | None = Field(default=None, max_length=200)
    reported_by: str = Field(max_length=255)
    occurred_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    links: list[dict[str, Any]] = Field(default_factory=list,
                                        sa_column=Column(JSON, nullable=False))
    status: NonconformityStatus = Field(default=NonconformityStatus.reported,
                                        sa_type=String(16))
    owner: str | None = Field(default=None, max_length=255)
    version: int = 1
    # Monitoring: one NC per alert fingerprint while it is open.
    fingerprint: str | None = Field(default=None, max_length=200)
    occurrence_count: int = 1
    first_seen: datetime = Field(sa_type=UTCDateTime)
    last_seen: datetime = Field(sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    truncated_alerts: int = 0
    # "category|affected item", lower-cased: what makes two NCs the same problem.
    recurrence_key: str | None = Field(default=None, max_length=310)
    # Audit findings.
    audit_ref: str | None = Field(default=None, max_length=100)
    clause: str | None = Field(default=None, max_length=20)
    finding_type: str | None = Field(default=None, max_length=16)
    evidence: str | None = Field(default=None, sa_column=Column(Text))
    auditor: str | None = Field(default=None, max_length=200)
    process_audited: str | None = Field(default=None, max_length=200)
    # Triage, correction, escalation, CAPA, closure.
    triage_reason: str | None = Field(default=None, sa_column=Column(Text))
    duplicate_of: UUID | None = None
    correction: str | None = Field(default=None, sa_column=Column(Text))
    correction_by: str | None = Field(default=None, max_length=255)
    correction_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    escalated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    escalation_reason: str | None = Field(default=None, max_length=32)
    capa_link: CapaLink = Field(default=CapaLink.none, sa_type=String(16))
    capa_id: UUID | None = None
    capa_number: str | None = Field(default=None, max_length=32)
    # The escalated NC of the same problem whose CAPA this one joins when it opens.
    joins_capa_of: UUID | None = Field(default=None, index=True)
    resolution: str | None = Field(default=None, sa_column=Column(Text))
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class NonconformityTag(SQLModel, table=True):
    """Tags again, one row each, so lists can filter by tag on any database."""

    __tablename__ = "nonconformity_tags"

    nonconformity_id: UUID = Field(primary_key=True, foreign_key="nonconformities.id")
    tag: str = Field(primary_key=True, max_length=100, index=True)


class Occurrence(SQLModel, table=True):
    """One firing of a problem; a re-sent notification of the same firing is not one."""

    __tablename__ = "nonconformity_occurrences"
    __table_args__ = (UniqueConstraint("nonconformity_id", "started_at",
                                       name="uq_occurrence_start"),)

    id: int | None = Field(default=None, primary_key=True)
    nonconformity_id: UUID = Field(foreign_key="nonconformities.id", index=True)
    fingerprint: str | None = Field(default=None, max_length=200, index=True)
    started_at: datetime = Field(sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class NonconformityHistory(SQLModel, table=True):
    __tablename__ = "nonconformity_history"

    id: int | None = Field(default=None, primary_key=True)
    nonconformity_id: UUID = Field(foreign_key="nonconformities.id", index=True)
    at: datetime = Field(sa_type=UTCDateTime)
    actor: str = Field(max_length=255)
    action: str = Field(max_length=50)
    changes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    reason: str | None = Field(default=None, sa_column=Column(Text))


class NumberSequence(SQLModel, table=True):
    __tablename__ = "number_sequences"

    year: int = Field(primary_key=True)
    last_value: int = 0


class ReceivedWebhook(SQLModel, table=True):
    """Standard Webhooks ids already accepted per source: a sender's retry of the
    same id and body gets the first answer again; another body under it is refused."""

    __tablename__ = "received_webhooks"

    source: str = Field(primary_key=True, max_length=100)
    webhook_id: str = Field(primary_key=True, max_length=255)
    received_at: datetime = Field(sa_type=UTCDateTime)
    body_sha256: str | None = Field(default=None, max_length=64)
    nonconformity_id: UUID | None = None


metadata = SQLModel.metadata
