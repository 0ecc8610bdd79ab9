"""Tables of the CAPA service (its own database)."""

from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import JSON, Column, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from shared.db import UTCDateTime
from shared.events.catalog import Severity
from shared.evidence.store import EvidenceAttachment, EvidenceBlob
from shared.idempotency import IdempotencyRecord
from shared.inbox import ProcessedEvent
from shared.outbox import OutboxMessage
from shared.vocabulary import CauseCategory

from .domain import ActionKind, ActionStatus, CapaKind, CapaStatus, EffectivenessResult
from .domain.root_cause import AnalysisStatus
from .models_lessons import Lesson, LessonLink, LessonSuggestion
from .models_review import ManagementReviewMeeting, QualityObjective, ReviewDecision
from .supplier_models import Scar, ScarCounter, Supplier, SupplierNonconformity

__all__ = [
    "ActionRow",
    "AuditEntry",
    "Capa",
    "CapaCounter",
    "CapaNonconformity",
    "EffectivenessVerification",
    "EvidenceAttachment",
    "EvidenceBlob",
    "IdempotencyRecord",
    "Lesson",
    "LessonLink",
    "LessonSuggestion",
    "ManagementReviewMeeting",
    "OutboxMessage",
    "ProcessedEvent",
    "QualityObjective",
    "Reminder",
    "ReviewDecision",
    "RootCauseAnalysis",
    "RootCauseSubmission",
    "Scar",
    "ScarCounter",
    "SignatureRow",
    "Supplier",
    "SupplierNonconformity",
    "metadata",
]


def _text(nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(Text, nullable=nullable))


def _json(default: Any) -> Any:
    return Field(default_factory=lambda: default.copy(),
                 sa_column=Column(JSON, nullable=False))


class Capa(SQLModel, table=True):
    __tablename__ = "capas"

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    number: str = Field(max_length=32, unique=True)
    title: str = Field(max_length=300)
    # The NC that opened it; None for a preventive or manual CAPA.
    nonconformity_id: UUID | None = Field(default=None, unique=True)
    severity: Severity = Field(sa_type=String(16))
    status: CapaStatus = Field(default=CapaStatus.open, sa_type=String(16))
    opened_at: datetime = Field(sa_type=UTCDateTime)
    description: str | None = _text()
    kind: CapaKind = Field(default=CapaKind.corrective, sa_type=String(16))
    # Where the problem came from (the NC's source), or "risk" for preventive ones.
    source: str = Field(default="internal", max_length=32)
    owner: str | None = Field(default=None, max_length=255)
    likelihood: int = 3
    risk_score: int = 0
    due_date: date
    version: int = 1
    reopen_count: int = 0
    created_by: str = Field(default="system", max_length=255)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cancel_reason: str | None = _text()
    # Set by a submitted root-cause analysis; the management review counts it.
    cause_category: CauseCategory | None = Field(default=None, sa_type=String(32))
    effectiveness_criteria: str | None = _text()
    effectiveness_check_date: date | None = None
    overdue_notified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # "<last audit sequence>:<HMAC>" (domain.audit_chain): shows a truncated trail.
    audit_head: str | None = Field(default=None, max_length=100)
    # The supplier the problem came from (canonical code), from the NC or a PATCH.
    supplier_code: str | None = Field(default=None, max_length=32, index=True)


class CapaCounter(SQLModel, table=True):
    """The last sequence number given out per year, updated in the creating transaction."""

    __tablename__ = "capa_counters"

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    last_sequence: int = 0


class CapaNonconformity(SQLModel, table=True):
    """Every NC a CAPA addresses: the escalated one and recurrences linked to it."""

    __tablename__ = "capa_nonconformities"

    nonconformity_id: UUID = Field(primary_key=True)
    capa_id: UUID = Field(index=True)
    # "escalated", "recurred" or "manual"
    linked_via: str = Field(max_length=16)
    linked_at: datetime = Field(sa_type=UTCDateTime)


class RootCauseAnalysis(SQLModel, table=True):
    """The form as it is now (draft or last submission); edited with If-Match."""

    __tablename__ = "capa_root_causes"

    capa_id: UUID = Field(primary_key=True)
    version: int = 1
    status: AnalysisStatus = Field(default=AnalysisStatus.draft, sa_type=String(16))
    problem_statement: str | None = _text()
    whys: list[dict[str, str]] = _json([])
    short_chain_justification: str | None = _text()
    root_cause: str | None = _text()
    cause_category: CauseCategory | None = Field(default=None, sa_type=String(32))
    contributing_factors: list[str] = _json([])
    submissions: int = 0
    updated_by: str = Field(max_length=255)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class RootCauseSubmission(SQLModel, table=True):
    """Every submitted version, kept for the record."""

    __tablename__ = "capa_root_cause_submissions"
    __table_args__ = (UniqueConstraint("capa_id", "revision"),)

    id: int | None = Field(default=None, primary_key=True)
    capa_id: UUID = Field(index=True)
    revision: int
    content: dict[str, Any] = _json({})
    submitted_by: str = Field(max_length=255)
    submitted_at: datetime = Field(sa_type=UTCDateTime)


class ActionRow(SQLModel, table=True):
    __tablename__ = "capa_actions"

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    capa_id: UUID = Field(index=True)
    kind: ActionKind = Field(sa_type=String(16))
    description: str = Field(sa_column=Column(Text, nullable=False))
    owner: str = Field(max_length=255)
    due_date: date
    status: ActionStatus = Field(default=ActionStatus.planned, sa_type=String(16))
    completion_evidence: str | None = _text()
    completed_by: str | None = Field(default=None, max_length=255)
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    overdue_notified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    version: int = 1
    created_by: str = Field(max_length=255)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class EffectivenessVerification(SQLModel, table=True):
    __tablename__ = "capa_effectiveness_checks"

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    capa_id: UUID = Field(index=True)
    # The CAPA's reopen count when verified: results of earlier cycles no longer count.
    cycle: int
    result: EffectivenessResult = Field(sa_type=String(16))
    evidence: str = Field(sa_column=Column(Text, nullable=False))
    verified_by: str = Field(max_length=255)
    verified_at: datetime = Field(sa_type=UTCDateTime)
    # The plan's check date it was judged against (None: recorded before plans froze).
    check_date: date | None = None
    # A manager's decision to verify before the check date (domain.schedule).
    override_by: str | None = Field(default=None, max_length=255)
    override_reason: str | None = _text()


class Reminder(SQLModel, table=True):
    """One reminder sent, keyed so it is sent once per (kind, record, due date).

    Inserted in the transaction that records the reminder's event: a second
    replica's insert of the same key does nothing, so it emits nothing. A due
    date moved is a new key, so the reminder is armed again.
    """

    __tablename__ = "capa_reminders"
    __table_args__ = (UniqueConstraint("kind", "record_id", "due_date",
                                       name="uq_capa_reminders_key"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(sa_type=String(32))
    # The action's id for action reminders, else the CAPA's.
    record_id: UUID
    due_date: date
    capa_id: UUID = Field(index=True)
    sent_at: datetime = Field(sa_type=UTCDateTime)


class AuditEntry(SQLModel, table=True):
    """Append-only; ``hash`` chains each entry to the one before (per CAPA)."""

    __tablename__ = "capa_audit_entries"
    __table_args__ = (UniqueConstraint("capa_id", "sequence"),)

    id: int | None = Field(default=None, primary_key=True)
    capa_id: UUID = Field(index=True)
    sequence: int
    at: datetime = Field(sa_type=UTCDateTime)
    actor: str = Field(max_length=255)
    action: str = Field(max_length=64)
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    reason: str | None = _text()
    previous_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)
    # "hmac-sha256" (keyed); "sha256" or None: plain, written without a key.
    scheme: str | None = Field(default=None, max_length=16)


class SignatureRow(SQLModel, table=True):
    """An electronic signature (domain.signatures): append-only, like the audit trail.

    ``content`` is what the signer saw and signed; ``hash`` binds it, the record,
    meaning, signer and time. Verifying rebuilds the content from the record's
    own rows, so an edit of either shows.
    """

    __tablename__ = "capa_signatures"
    __table_args__ = (UniqueConstraint("capa_id", "sequence",
                                       name="uq_capa_signatures_sequence"),)

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    capa_id: UUID = Field(index=True)
    # 1, 2, ... per CAPA, in the order signed (signed_at has whole seconds only).
    sequence: int
    move: str = Field(max_length=32)
    # The signed record: the analysis revision, the verification's id, or the CAPA's.
    record_id: str = Field(max_length=64)
    meaning: str = Field(max_length=16)
    signer: str = Field(max_length=255)
    signer_name: str = Field(max_length=255)
    signed_at: datetime = Field(sa_type=UTCDateTime)
    # When the signer last authenticated at the provider (§11.200 evidence).
    authenticated_at: datetime = Field(sa_type=UTCDateTime)
    content: dict[str, Any] = _json({})
    scheme: str = Field(max_length=32)
    hash: str = Field(max_length=64)


metadata = SQLModel.metadata
