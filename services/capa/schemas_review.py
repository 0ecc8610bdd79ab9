"""Request and response models of the management review: quality objectives,
review meetings and their decisions (the pack itself is plain JSON)."""

from datetime import date, datetime
from typing import Annotated, Any, Literal, get_args
from uuid import UUID

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    WithJsonSchema,
    field_validator,
)

from shared.events.base import Severity
from shared.inputs import NO_NUL, IsoDate, QueryTime, json_integer
from shared.text import SOME_VISIBLE

from .domain import ActionKind
from .domain.objectives import METRICS, Direction, TrackState
from .request_rules import LongText, Person, ShortText, not_null

# The allow-list of domain.objectives, spelt out so the OpenAPI lists it.
MetricName = Literal["median_days_to_close", "overdue_capas", "open_capas", "reopen_rate",
                     "effectiveness_rate", "capas_opened_per_week", "supplier_response_days"]
assert set(get_args(MetricName)) == set(METRICS), "MetricName must list domain METRICS"
# JSON numbers only (true or "3" are no targets; 7.0 is a JSON integer), as the schema says.
PeriodDays = Annotated[int, Field(ge=7, le=366), BeforeValidator(json_integer)]
Target = Annotated[float, Field(ge=0, le=1_000_000, strict=True)]
Source = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=NO_NUL)]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


# domain.objectives.check_definition, as the schema states it: a ratio's target
# lies in [0, 1], and only metrics that take a source may name one.
_RATIOS = [name for name, m in METRICS.items() if m.upper_bound is not None]
_WITH_SOURCE = [name for name, m in METRICS.items() if m.takes_source]
DEFINITION_RULES: dict[str, Any] = {"allOf": [
    {"if": {"properties": {"metric": {"enum": _RATIOS}}, "required": ["metric"]},
     "then": {"properties": {"target": {"maximum": 1}}}},
    {"if": {"properties": {"metric": {"enum": _WITH_SOURCE}}, "required": ["metric"]},
     "else": {"properties": {"source": {"type": "null"}}}},
]}


def _without_null(kind: Any) -> WithJsonSchema:
    """A PATCH field that may be left out, not emptied: the schema offers no null."""
    return WithJsonSchema(TypeAdapter(kind).json_schema())


class ObjectiveCreate(Request):
    model_config = ConfigDict(extra="forbid", json_schema_extra=DEFINITION_RULES)

    title: ShortText
    metric: MetricName
    # Only capas_opened_per_week takes one (a 422 otherwise).
    source: Source | None = None
    # In the metric's unit; a ratio's lies in [0, 1] (a 422 otherwise).
    target: Target
    deadline: IsoDate
    # Progress is measured per period of this many days, ending now.
    period_days: PeriodDays = 30
    owner: Person | None = None


class ObjectiveUpdate(Request):
    """Left-out fields stay; none of them can be emptied but the owner. A target out
    of the stored metric's range (a ratio above 1) is a 409: no schema knows the metric."""

    title: Annotated[ShortText | None, _without_null(ShortText)] = None
    target: Annotated[Target | None, _without_null(Target)] = None
    deadline: Annotated[IsoDate | None, _without_null(IsoDate)] = None
    period_days: Annotated[PeriodDays | None, _without_null(PeriodDays)] = None
    owner: Person | None = None

    _kept = field_validator("title", "target", "deadline", "period_days")(not_null)


class TrendPointPublic(BaseModel):
    since: datetime
    until: datetime
    value: float | None


class ProgressPublic(BaseModel):
    current: float | None
    trend: list[TrendPointPublic]
    state: TrackState
    on_track: bool
    target_met: bool
    projected: float | None
    reason: str


class ObjectivePublic(BaseModel):
    id: UUID
    title: str
    metric: str
    metric_label: str
    unit: str
    direction: Direction
    source: str | None
    target: float
    deadline: date
    period_days: int
    owner: str | None
    version: int
    created_by: str
    created_at: datetime
    updated_at: datetime
    progress: ProgressPublic


class ObjectiveList(BaseModel):
    items: list[ObjectivePublic]


class MetricPublic(BaseModel):
    """One metric an objective may name, as the definition form offers it."""

    name: str
    label: str
    unit: str
    direction: Direction
    # A ratio's target lies in [0, upper_bound]; None: any number from 0.
    upper_bound: float | None
    # Whether an objective on it may be narrowed to one source of nonconformities.
    takes_source: bool


class MetricList(BaseModel):
    items: list[MetricPublic]


class OpensCapa(Request):
    """A decision that opens a CAPA (the usual opening: number, audit trail, events)."""

    opens: Literal["capa"]
    title: ShortText
    description: LongText | None = None
    severity: Severity
    # The decision's owner and due date unless given.
    owner: Person | None = None
    due_date: IsoDate | None = None


class OpensAction(Request):
    """A decision that adds an action to an open CAPA (the usual add_action), owned by
    the decision's owner and due on its due date."""

    opens: Literal["action"]
    capa_id: UUID
    kind: ActionKind = ActionKind.corrective
    description: LongText


FollowUp = Annotated[OpensCapa | OpensAction, Field(discriminator="opens")]
# Attendees as the minutes name them: people with a CAPAflow identity or not
# (an external auditor, a consultant).
Attendee = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                            max_length=200, pattern=SOME_VISIBLE)]


class DecisionCreate(Request):
    text: LongText
    owner: Person
    due_date: IsoDate
    # What the decision starts at once, if anything.
    follow_up: FollowUp | None = None


class PackReference(Request):
    """The pack the meeting used: its period and the ``sha256`` it showed."""

    since: QueryTime
    until: QueryTime
    sha256: Sha256


class ReviewCreate(Request):
    held_on: IsoDate
    attendees: Annotated[list[Attendee], Field(min_length=1, max_length=30)]
    pack: PackReference
    notes: LongText | None = None
    decisions: Annotated[list[DecisionCreate], Field(max_length=20)] = []


class DecisionPublic(BaseModel):
    id: UUID
    sequence: int
    text: str
    owner: str
    due_date: date
    capa_id: UUID | None
    # The CAPA's number, so a person reading the record sees which CAPA it is.
    capa_number: str | None = None
    action_id: UUID | None


class ReviewPublic(BaseModel):
    id: UUID
    held_on: date
    attendees: list[str]
    pack: dict[str, Any]
    notes: str | None
    recorded_by: str
    recorded_at: datetime
    decisions: list[DecisionPublic]


class ReviewPage(BaseModel):
    items: list[ReviewPublic]
    next_cursor: str | None
