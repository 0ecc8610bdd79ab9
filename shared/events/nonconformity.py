"""Events the nonconformity service publishes on ``nonconformity.events``.

All are keyed by the NC id. Fields a consumer may filter on (severity,
source, category, tags, affected_item) travel on every event of the NC.
"""

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from shared.events.base import NONCONFORMITY_TOPIC, EventData, EvidenceAttached, Severity


class NonconformityEvent(EventData):
    topic: ClassVar[str] = NONCONFORMITY_TOPIC
    subject_field: ClassVar[str] = "nonconformity_id"

    nonconformity_id: UUID
    number: str
    title: str
    severity: Severity
    source: str = "support"
    category: str | None = None
    affected_item: str | None = None
    tags: list[str] = []
    owner: str | None = None
    # The supplier it came from (canonical code, shared.supplier_code), if named.
    supplier_code: str | None = None


class NonconformityReported(NonconformityEvent):
    event_type: ClassVar[str] = "capaflow.nonconformity.reported.v1"

    description: str | None = None
    external_ref: str | None = None
    # Alertmanager/Grafana alert fingerprint, for monitoring sources.
    fingerprint: str | None = None
    reported_by: str | None = None
    reported_at: datetime


class NonconformityUpdated(NonconformityEvent):
    event_type: ClassVar[str] = "capaflow.nonconformity.updated.v1"

    changed_fields: list[str]
    updated_by: str
    updated_at: datetime


class NonconformityTriaged(NonconformityEvent):
    event_type: ClassVar[str] = "capaflow.nonconformity.triaged.v1"

    # "accepted" | "rejected" | "duplicate"
    decision: str
    reason: str
    duplicate_of: UUID | None = None
    triaged_by: str
    triaged_at: datetime


class NonconformityCorrectionRecorded(NonconformityEvent):
    """The immediate containment (ISO 9001 "correction"), not the corrective action."""

    event_type: ClassVar[str] = "capaflow.nonconformity.correction_recorded.v1"

    correction: str
    recorded_by: str
    recorded_at: datetime


class NonconformityEscalated(NonconformityEvent):
    """The escalation policy asks for a CAPA. Emitted at most once per NC."""

    event_type: ClassVar[str] = "capaflow.nonconformity.escalated.v1"

    # Why the policy fired: "severity", "recurrence" or "audit_finding".
    reason: str
    description: str | None = None
    occurrence_count: int = 1
    escalated_at: datetime


class NonconformityRecurred(NonconformityEvent):
    """The same problem was seen again. ``capa_id`` names the open CAPA it is
    linked to instead of a new one, when there is one."""

    event_type: ClassVar[str] = "capaflow.nonconformity.recurred.v1"

    occurrence_count: int
    last_seen: datetime
    capa_id: UUID | None = None
    recurred_at: datetime


class NonconformityClosed(NonconformityEvent):
    event_type: ClassVar[str] = "capaflow.nonconformity.closed.v1"

    capa_id: UUID | None = None
    resolution: str
    closed_by: str
    closed_at: datetime


class NonconformityReopened(NonconformityEvent):
    event_type: ClassVar[str] = "capaflow.nonconformity.reopened.v1"

    reason: str
    reopened_by: str
    reopened_at: datetime


class NonconformityEvidenceAttached(EvidenceAttached, NonconformityEvent):
    """A file was attached to the NC as evidence (record_type "nonconformity")."""

    event_type: ClassVar[str] = "capaflow.nonconformity.evidence_attached.v1"


EVENTS: tuple[type[EventData], ...] = (
    NonconformityReported,
    NonconformityUpdated,
    NonconformityTriaged,
    NonconformityCorrectionRecorded,
    NonconformityEscalated,
    NonconformityRecurred,
    NonconformityClosed,
    NonconformityReopened,
    NonconformityEvidenceAttached,
)
