"""API request and response models (the XCreate / XUpdate / XPublic families)."""

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from shared.events.base import Severity
from shared.evidence.attach import EvidencePublic
from shared.inputs import iso_only, utc_in_range, years_through
from shared.supplier_code import CODE_INPUT_PATTERN, CODE_MAX, canonical_code

from .domain import CLAUSE_PATTERN, FindingType, Source, TriageDecision
from .domain.bounds import DESCRIPTION_CHARS, TITLE_CHARS

# Surrounding white space is stripped; the patterns say so in the schema: at
# least one visible character (Text), at least three (Title), and no NUL
# anywhere (no database column holds it; NulGuard refuses it with 422).
_SOME_VISIBLE = r"^[^\x00]*[^\s\x00][^\x00]*$"
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                        max_length=DESCRIPTION_CHARS,
                                        pattern=_SOME_VISIBLE)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200,
                                             pattern=_SOME_VISIBLE)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3,
                                         max_length=TITLE_CHARS,
                                         pattern=r"^[^\x00]*[^\s\x00][^\x00]+[^\s\x00][^\x00]*$")]
# A past time. JSON Schema cannot compare with the clock, so the published
# pattern admits the years up to last year (always past); the server also
# takes this year's times up to now (+5 minutes of clock skew).
PastTime = Annotated[datetime, BeforeValidator(iso_only), WithJsonSchema({
    "type": "string", "format": "date-time",
    "pattern": years_through(datetime.now(UTC).year - 1),
    "description": "When it happened, with a time zone; not in the future."})]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100,
                                       pattern=r"^[A-Za-z0-9._:/-]+$")]


# A supplier's code in any spelling the pattern admits, stored canonical: the
# CAPA service's register uses the same form (shared.supplier_code).
SupplierCode = Annotated[str, StringConstraints(min_length=2, max_length=CODE_MAX,
                                                pattern=CODE_INPUT_PATTERN),
                         AfterValidator(canonical_code)]


class Strict(BaseModel):
    # Unknown fields are refused: a silently dropped field is a lost fact.
    model_config = ConfigDict(extra="forbid")


class Link(Strict):
    url: AnyHttpUrl
    title: ShortText | None = None


class NonconformityCreate(Strict):
    title: Title
    description: Text | None = None
    source: Source = Source.support
    severity: Severity
    category: ShortText | None = None
    affected_item: ShortText | None = Field(
        default=None, description="The affected product, process or service.")
    supplier_code: SupplierCode | None = Field(
        default=None, description="The supplier it came from, by code; stored canonical "
                                  "(\"ACME Seals\" -> acme-seals)")
    external_ref: ShortText | None = Field(default=None, description="e.g. the ticket id")
    reporter: ShortText | None = None
    occurred_at: PastTime | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=20)
    links: list[Link] = Field(default_factory=list, max_length=20)

    @field_validator("occurred_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give a time zone, e.g. 2026-11-26T08:00:00Z")
        if value is not None:
            value = utc_in_range(value)  # 0001-01-01T00:00:00+14:00 is no time at all
        if value is not None and value > datetime.now(UTC) + timedelta(minutes=5):
            raise ValueError("lies in the future; give the time the problem occurred")
        return value


class NonconformityUpdate(Strict):
    # title, severity, tags and links may be left out but not set to null
    # (SkipJsonSchema: the schema does not offer the null the server refuses).
    title: Title | SkipJsonSchema[None] = None
    description: Text | None = None
    severity: Severity | SkipJsonSchema[None] = None
    category: ShortText | None = None
    affected_item: ShortText | None = None
    supplier_code: SupplierCode | None = None
    owner: ShortText | None = None
    tags: Annotated[list[Tag], Field(max_length=20)] | SkipJsonSchema[None] = None
    links: Annotated[list[Link], Field(max_length=20)] | SkipJsonSchema[None] = None
    reason: Text | None = None

    @field_validator("title", "severity", "tags", "links")
    @classmethod
    def _not_null(cls, value: object) -> object:
        # Omit a field to keep it; null would erase something every NC must have.
        if value is None:
            raise ValueError("cannot be null; leave the field out to keep its value")
        return value


class TriageRequest(Strict):
    # The cross-field rule, in the schema too: duplicate_of with "duplicate", and only then.
    model_config = ConfigDict(json_schema_extra={
        "if": {"properties": {"decision": {"const": TriageDecision.duplicate.value}},
               "required": ["decision"]},
        "then": {"required": ["duplicate_of"],
                 "properties": {"duplicate_of": {"type": "string", "format": "uuid"}}},
        "else": {"properties": {"duplicate_of": {"type": "null"}}}})

    decision: TriageDecision
    reason: Text
    owner: ShortText | None = None
    duplicate_of: UUID | None = Field(default=None,
                                      description="Required when decision is duplicate.")

    @model_validator(mode="after")
    def _duplicate_names_its_original(self) -> "TriageRequest":
        if (self.decision is TriageDecision.duplicate) != (self.duplicate_of is not None):
            raise ValueError("duplicate_of is required for decision 'duplicate' and only then")
        return self


class CorrectionRequest(Strict):
    correction: Text = Field(description="The immediate containment (ISO 9001 correction), "
                                         "not the corrective action.")


class CloseRequest(Strict):
    resolution: Text


class ReopenRequest(Strict):
    reason: Text


class AuditFindingCreate(Strict):
    clause: Annotated[str, StringConstraints(strip_whitespace=True,
                                             pattern=CLAUSE_PATTERN.pattern)] = Field(
        description="ISO 9001 clause, e.g. 8.5.1")
    finding_type: FindingType
    title: Title
    evidence: Text
    auditor: ShortText
    process_audited: ShortText
    category: ShortText | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=20)


class NonconformityPublic(BaseModel):
    id: UUID
    number: str
    title: str
    description: str | None
    source: str
    severity: Severity
    category: str | None
    affected_item: str | None
    supplier_code: str | None = None
    external_ref: str | None
    reporter: str | None
    reported_by: str
    occurred_at: datetime | None
    tags: list[str]
    links: list[dict[str, Any]]
    status: str
    owner: str | None
    version: int
    fingerprint: str | None
    occurrence_count: int
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None
    truncated_alerts: int
    audit_ref: str | None
    clause: str | None
    finding_type: str | None
    evidence: str | None
    auditor: str | None
    process_audited: str | None
    triage_reason: str | None
    duplicate_of: UUID | None
    correction: str | None
    correction_by: str | None
    correction_at: datetime | None
    escalated_at: datetime | None
    escalation_reason: str | None
    capa_link: str
    capa_id: UUID | None
    capa_number: str | None
    resolution: str | None
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    # References only (the bytes are at each one's download path). Filled on
    # GET /v1/nonconformities/{id}; null in lists and in the answers to changes.
    attachments: list[EvidencePublic] | None = Field(
        default=None, description="Evidence files attached (GET of one NC; null elsewhere)")

    model_config = ConfigDict(from_attributes=True)


class NonconformityPage(BaseModel):
    items: list[NonconformityPublic]
    next_cursor: str | None
    total: int = Field(description="How many NCs match the filters, on every page")


class HistoryEntry(BaseModel):
    at: datetime
    actor: str
    action: str
    changes: dict[str, Any]
    reason: str | None

    model_config = ConfigDict(from_attributes=True)


class IntakeResult(BaseModel):
    """What a monitoring webhook did: NCs opened, re-seen (occurrences) and resolved."""

    received: int
    created: list[str]
    updated: list[str]
    resolved: list[str]
    escalated: list[str]
    truncated_alerts: int = 0


class WeekCounts(BaseModel):
    week_start: str = Field(description="Monday of the UTC ISO week (YYYY-MM-DD)")
    counts: dict[str, int] = Field(description="NCs reported that week, per source; every "
                                               "source of the window is listed, 0 if none")
    total: int


class NonconformitiesPerWeek(BaseModel):
    since: str = Field(description="Monday the first week starts (inclusive)")
    until: str = Field(description="Monday after the last week (exclusive)")
    sources: list[str] = Field(description="Every source with at least one NC in the window")
    weeks: list[WeekCounts] = Field(description="Oldest first; the last is the current week")


class UntriagedBacklog(BaseModel):
    """Every NC still waiting for triage (status ``reported``), as of now."""

    total: int = Field(description="As GET /v1/nonconformities?status=reported counts them")
    oldest_id: UUID | None = None
    oldest_number: str | None = None
    oldest_reported_at: datetime | None = None
    oldest_age_days: int | None = Field(
        default=None, description="Whole days since the oldest one was reported")


class NonconformityReview(BaseModel):
    """The NC figures of the management review (ISO 9001 9.3) for ``[since, until)``.

    Each count is the ``total`` of the NC list with the same filters: by severity is
    ``?severity=S&since=…&until=…``, by status ``?status=S&since=…&until=…`` (the
    status the NCs reported in the period have now), the backlog ``?status=reported``.
    """

    since: datetime
    until: datetime = Field(description="Exclusive")
    as_of: datetime
    reported_in_period: int
    by_severity: dict[str, int] = Field(description="NCs reported in the period per severity, "
                                                    "most severe first, 0 if none")
    by_status: dict[str, int] = Field(description="The same NCs per status they have now, "
                                                  "0 if none")
    untriaged: UntriagedBacklog
