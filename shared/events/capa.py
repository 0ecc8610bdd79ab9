"""Events the CAPA service publishes on ``capa.events`` about a CAPA's own record.

The lessons learned are in shared.events.lessons, the management review in
shared.events.review, suppliers and SCARs in shared.events.suppliers.
"""

from datetime import date, datetime
from typing import ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from shared.events.base import CAPA_TOPIC, EventData, EvidenceAttached, Severity


class SignatureReference(BaseModel):
    """The electronic signature a move carried: who, with what meaning, when, and
    the hash binding it to what was signed (never a token). The full record is
    at ``GET /v1/capas/{capa_id}/signatures``."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    signature_id: UUID
    signer: str
    signer_name: str
    # authorship | review | approval | responsibility
    meaning: str
    signed_at: datetime
    # SHA-256 (hex) over the canonical JSON of the signed content, record,
    # meaning, signer and time.
    hash: str


class CapaOpened(EventData):
    event_type: ClassVar[str] = "capaflow.capa.opened.v1"
    topic: ClassVar[str] = CAPA_TOPIC
    subject_field: ClassVar[str] = "capa_id"

    capa_id: UUID
    number: str
    title: str
    # None for a preventive CAPA raised from a risk, with no NC behind it.
    nonconformity_id: UUID | None = None
    severity: Severity
    opened_at: datetime
    # "corrective" or "preventive".
    kind: str | None = None
    # The NC's source (support, monitoring, audit, ...) or "risk".
    source: str | None = None
    owner: str | None = None
    due_date: date | None = None
    # severity (1-5) x likelihood (1-5).
    risk_score: int | None = None
    opened_by: str | None = None


class CapaClosed(EventData):
    event_type: ClassVar[str] = "capaflow.capa.closed.v1"
    topic: ClassVar[str] = CAPA_TOPIC
    subject_field: ClassVar[str] = "capa_id"

    capa_id: UUID
    number: str
    nonconformity_ids: list[UUID] = []
    # The effectiveness verification that allowed closing ("effective").
    effectiveness_result: str | None = None
    effectiveness_evidence: str | None = None
    closed_by: str
    closed_at: datetime
    title: str | None = None
    severity: Severity | None = None
    reopen_count: int | None = None
    # The closer's electronic signature, when the closure was signed.
    signature: SignatureReference | None = None


class CapaEvent(EventData):
    """Fields every later CAPA event carries, so subscribers can filter on them."""

    topic: ClassVar[str] = CAPA_TOPIC
    subject_field: ClassVar[str] = "capa_id"

    capa_id: UUID
    number: str
    severity: Severity | None = None
    owner: str | None = None


class CapaStatusChanged(CapaEvent):
    """Every move of the workflow, including the ones with their own event."""

    event_type: ClassVar[str] = "capaflow.capa.status_changed.v1"

    from_status: str
    to_status: str
    reason: str | None = None
    changed_by: str
    changed_at: datetime
    # Set on a signed move (root-cause approval, closure).
    signature: SignatureReference | None = None
    # The CAPA's title when it moved, so an e-mail names the record, not just its
    # number. Optional (older events lack it), which keeps the version (DESIGN §2).
    title: str | None = None


class CapaNonconformityLinked(CapaEvent):
    """A recurring NC was attached to this open CAPA instead of opening another."""

    event_type: ClassVar[str] = "capaflow.capa.nonconformity_linked.v1"

    nonconformity_id: UUID
    linked_at: datetime


class CapaRootCauseSubmitted(CapaEvent):
    event_type: ClassVar[str] = "capaflow.capa.root_cause_submitted.v1"

    revision: int
    problem_statement: str
    root_cause: str
    cause_category: str
    whys: int
    submitted_by: str
    submitted_at: datetime


class CapaActionAdded(CapaEvent):
    event_type: ClassVar[str] = "capaflow.capa.action_added.v1"

    action_id: UUID
    # "correction" | "corrective" | "preventive"
    kind: str
    description: str
    action_owner: str
    due_date: date
    added_by: str
    added_at: datetime


class CapaActionCompleted(CapaEvent):
    event_type: ClassVar[str] = "capaflow.capa.action_completed.v1"

    action_id: UUID
    kind: str
    completion_evidence: str
    completed_by: str
    completed_at: datetime


class CapaActionOverdue(CapaEvent):
    """Emitted once per action when its due date passes while it is unfinished."""

    event_type: ClassVar[str] = "capaflow.capa.action_overdue.v1"

    action_id: UUID
    kind: str
    description: str
    action_owner: str
    due_date: date
    detected_at: datetime


class CapaOverdue(CapaEvent):
    """Emitted once per CAPA when its due date passes while it is still open."""

    event_type: ClassVar[str] = "capaflow.capa.overdue.v1"

    status: str
    due_date: date
    detected_at: datetime


class CapaActionDueSoon(CapaEvent):
    """A reminder, once per action and due date, when an unfinished action falls due
    within the reminder window (``CAPA_REMINDER_DAYS``); ``action_owner`` is reminded."""

    event_type: ClassVar[str] = "capaflow.capa.action_due_soon.v1"

    action_id: UUID
    kind: str
    description: str
    action_owner: str
    due_date: date
    # 0 on the due day itself.
    days_left: int
    reminded_at: datetime


class CapaDueSoon(CapaEvent):
    """A reminder, once per CAPA and due date, when an open CAPA falls due within the
    reminder window; its owner is reminded."""

    event_type: ClassVar[str] = "capaflow.capa.due_soon.v1"

    status: str
    due_date: date
    days_left: int
    reminded_at: datetime


class CapaEffectivenessCheckDue(CapaEvent):
    """A reminder, once per CAPA and check date, when the planned effectiveness check
    has come and no verification of the current cycle is recorded."""

    event_type: ClassVar[str] = "capaflow.capa.effectiveness_check_due.v1"

    status: str
    check_date: date
    criteria: str
    reminded_at: datetime


class CapaEffectivenessVerified(CapaEvent):
    event_type: ClassVar[str] = "capaflow.capa.effectiveness_verified.v1"

    # "effective" | "not_effective"
    result: str
    evidence: str
    cycle: int
    verified_by: str
    verified_at: datetime
    # The plan's check date the result was judged against.
    check_date: date | None = None
    # Set when a manager allowed the verification before its check date.
    override_by: str | None = None
    override_reason: str | None = None
    # The verifier's electronic signature, when the verification was signed.
    signature: SignatureReference | None = None


class CapaReopened(CapaEvent):
    """The effectiveness check failed: back to investigating."""

    event_type: ClassVar[str] = "capaflow.capa.reopened.v1"

    reason: str
    reopen_count: int
    reopened_by: str
    reopened_at: datetime


class CapaCancelled(CapaEvent):
    event_type: ClassVar[str] = "capaflow.capa.cancelled.v1"

    nonconformity_ids: list[UUID] = []
    reason: str
    cancelled_by: str
    cancelled_at: datetime


class CapaEvidenceAttached(EvidenceAttached, CapaEvent):
    """A file was attached as evidence to one of the CAPA's actions
    (record_type "action") or effectiveness verifications
    ("effectiveness_verification")."""

    event_type: ClassVar[str] = "capaflow.capa.evidence_attached.v1"


EVENTS: tuple[type[EventData], ...] = (
    CapaOpened,
    CapaStatusChanged,
    CapaNonconformityLinked,
    CapaRootCauseSubmitted,
    CapaActionAdded,
    CapaActionCompleted,
    CapaActionOverdue,
    CapaOverdue,
    CapaActionDueSoon,
    CapaDueSoon,
    CapaEffectivenessCheckDue,
    CapaEffectivenessVerified,
    CapaReopened,
    CapaCancelled,
    CapaClosed,
    CapaEvidenceAttached,
)
