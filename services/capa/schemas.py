"""API request and response models (``XCreate / XUpdate / XPublic``).

Requests forbid unknown fields: a misspelt field is a 422, never silently dropped.
"""

from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    field_validator,
)

from shared.events.base import Severity
from shared.evidence.attach import EvidencePublic
from shared.inputs import NO_NUL, IsoDate
from shared.vocabulary import CauseCategory

from .domain import ActionKind, ActionStatus, CapaKind, CapaStatus, EffectivenessResult
from .domain.root_cause import AnalysisStatus
from .request_rules import (
    DONE_NEEDS_EVIDENCE,
    LESSON_WITH_CLOSURE,
    NEW_ACTION_STATUSES,
    SUBMISSION_COMPLETE,
    DescriptionChange,
    DueDateChange,
    Likelihood,
    LikelihoodChange,
    LongText,
    OwnerChange,
    Person,
    ShortText,
    StatusChange,
    Tag,
    TitleChange,
    not_null,
)
from .signature_schemas import SignatureInput, SignaturePublic
from .supplier_schemas import SupplierCode as SupplierCodeChange


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CapaCreate(Request):
    title: ShortText
    description: LongText | None = None
    kind: CapaKind = CapaKind.corrective
    severity: Severity
    # A JSON integer (3 or 3.0): true/false and "3" are not likelihoods.
    likelihood: Likelihood = 3
    owner: Person | None = None
    # A corrective CAPA may name the NC it addresses; a preventive one has none.
    nonconformity_id: UUID | None = None
    source: Annotated[str, StringConstraints(min_length=1, max_length=32,
                                             pattern=NO_NUL)] | None = None
    # Overrides the due date the severity gives.
    due_date: IsoDate | None = None


class CapaUpdate(Request):
    # title, likelihood and due_date may be left out but not emptied: the schema
    # does not offer the null the server refuses (request_rules.TitleChange...).
    title: TitleChange = None
    description: LongText | None = None
    owner: Person | None = None
    likelihood: LikelihoodChange = None
    due_date: DueDateChange = None
    # The supplier the problem came from (a registered code; null clears it).
    supplier_code: SupplierCodeChange | None = None
    reason: LongText | None = None

    _kept = field_validator("title", "likelihood", "due_date")(not_null)


class EffectivenessPlan(BaseModel):
    criteria: str
    check_date: IsoDate


class CapaPublic(BaseModel):
    id: UUID
    number: str
    title: str
    description: str | None
    kind: CapaKind
    source: str
    severity: Severity
    likelihood: int
    risk_score: int
    status: CapaStatus
    allowed_transitions: list[str]
    owner: str | None
    due_date: date
    overdue: bool
    reopen_count: int
    nonconformity_ids: list[UUID]
    cause_category: CauseCategory | None
    effectiveness_plan: EffectivenessPlan | None
    created_by: str
    opened_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str | None
    version: int
    # The supplier the problem came from (canonical code), if one is named.
    supplier_code: str | None = None
    # The CAPA's electronic signatures, oldest first: on GET /v1/capas/{id} and on the
    # answer to a move; null on lists and other answers (GET .../signatures has them).
    signatures: list[SignaturePublic] | None = None


class LessonInput(Request):
    what_to_do_differently: LongText
    tags: list[Tag] = Field(default_factory=list, max_length=20)


class TransitionRequest(Request):
    model_config = ConfigDict(json_schema_extra=LESSON_WITH_CLOSURE)

    to: CapaStatus
    reason: LongText | None = None
    # Required when closing: the lessons-learned record published with the closure.
    lesson: LessonInput | None = None
    # Approving the root-cause analysis (to action_planned) and closing can be signed;
    # with CAPA_SIGNATURES_REQUIRED they must be.
    signature: SignatureInput | None = None


class TransitionOption(BaseModel):
    """A move out of the current state: who may make it, what it asks for, and
    (``blocked_by``) the rule that refuses it right now, if any."""

    to: CapaStatus
    roles: list[str]
    you_may: bool
    ready: bool
    blocked_by: str | None
    needs_reason: bool
    needs_lesson: bool


class WhyStep(Request):
    why: LongText
    because: LongText


class RootCauseInput(Request):
    model_config = ConfigDict(json_schema_extra=SUBMISSION_COMPLETE)

    status: AnalysisStatus = AnalysisStatus.draft
    problem_statement: LongText | None = None
    whys: list[WhyStep] = Field(default_factory=list, max_length=20)
    short_chain_justification: LongText | None = None
    root_cause: LongText | None = None
    cause_category: CauseCategory | None = None
    contributing_factors: list[ShortText] = Field(default_factory=list, max_length=30)


class RootCausePublic(BaseModel):
    capa_id: UUID
    status: AnalysisStatus
    problem_statement: str | None
    whys: list[dict[str, str]]
    short_chain_justification: str | None
    root_cause: str | None
    cause_category: CauseCategory | None
    contributing_factors: list[str]
    submissions: int
    # None until the form is first saved (version 0).
    updated_by: str | None
    updated_at: datetime | None
    version: int


class RootCauseSubmissionPublic(BaseModel):
    revision: int
    content: dict[str, Any]
    submitted_by: str
    submitted_at: datetime


class ActionCreate(Request):
    model_config = ConfigDict(json_schema_extra=DONE_NEEDS_EVIDENCE)

    kind: ActionKind
    description: LongText
    owner: Person
    due_date: IsoDate
    # A new action does not start cancelled (the use case refuses it with 422).
    status: Annotated[ActionStatus, WithJsonSchema({
        "type": "string", "enum": NEW_ACTION_STATUSES})] = ActionStatus.planned
    completion_evidence: LongText | None = None


class ActionUpdate(Request):
    model_config = ConfigDict(json_schema_extra=DONE_NEEDS_EVIDENCE)

    # Only the evidence may be emptied; the rest may be left out, not set to null.
    description: DescriptionChange = None
    owner: OwnerChange = None
    due_date: DueDateChange = None
    status: StatusChange = None
    completion_evidence: LongText | None = None

    _kept = field_validator("description", "owner", "due_date", "status")(not_null)


class ActionPublic(BaseModel):
    id: UUID
    capa_id: UUID
    kind: ActionKind
    description: str
    owner: str
    due_date: date
    status: ActionStatus
    overdue: bool
    completion_evidence: str | None
    completed_by: str | None
    completed_at: datetime | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    version: int
    # References to evidence files (bytes at each one's download path): filled
    # when actions are read (list and GET); null in the answers to changes.
    attachments: list[EvidencePublic] | None = None


class EffectivenessPlanInput(Request):
    criteria: LongText
    check_date: IsoDate


class VerificationCreate(Request):
    result: EffectivenessResult
    evidence: LongText
    # Only a manager, only before the plan's check date (domain.schedule).
    override_reason: LongText | None = Field(default=None, description=(
        "Why the result is recorded before the plan's check date (a manager only). "
        "Before that date a verification without it is refused (409)."))
    # With CAPA_SIGNATURES_REQUIRED a verification must be signed.
    signature: SignatureInput | None = None


class VerificationPublic(BaseModel):
    id: UUID
    capa_id: UUID
    cycle: int
    result: EffectivenessResult
    evidence: str
    verified_by: str
    verified_at: datetime
    # The plan's check date it was judged against; None for verifications older
    # than the schedule rule.
    check_date: date | None = None
    # A manager's early verification: who allowed it and why.
    override_by: str | None = None
    override_reason: str | None = None
    # Evidence files (references): filled in the list; null in the answer to recording it.
    attachments: list[EvidencePublic] | None = None
    # The verifier's electronic signature, if the verification was signed.
    signature: SignaturePublic | None = None
