"""The building blocks of CAPA requests (schemas.py): field types whose JSON
Schema says exactly what the server takes, and the cross-field rules the use
cases enforce (422) as if/then/else, where clients and generated tests see them."""

from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    StringConstraints,
    TypeAdapter,
    WithJsonSchema,
)

from shared.identity import canonical_identity
from shared.inputs import IsoDate, json_integer
from shared.text import IDENTITY_MAX_CHARS, IDENTITY_PATTERN, SOME_VISIBLE, some_visible

from .domain import ActionStatus, CapaStatus
from .domain.root_cause import MIN_WHYS, AnalysisStatus

# At least one visible character, no NUL (see shared.text): the schema
# admits exactly the texts the server keeps after stripping white space.
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                             max_length=300, pattern=SOME_VISIBLE)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                            max_length=10_000, pattern=SOME_VISIBLE)]


# Owners and other people: stored in the canonical form identities are compared
# in (NFKC, case-folded, trimmed; see shared.identity), so "DEV-VERIFIER" is
# dev-verifier. The pattern says which names are taken (shared.text).
Person = Annotated[str, StringConstraints(min_length=1, max_length=IDENTITY_MAX_CHARS,
                                          pattern=IDENTITY_PATTERN),
                   AfterValidator(canonical_identity)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1,
                                       max_length=50, pattern=some_visible(excluding="|"))]
# The bounds before the validator, so they reach the JSON Schema as minimum/maximum.
Likelihood = Annotated[int, Field(ge=1, le=5), BeforeValidator(json_integer)]


def not_null(value: Any) -> Any:
    # Runs only for fields the client sent: an explicit null is a 422 here,
    # before any If-Match is compared, as the schema (which offers no null) says.
    if value is None:
        raise ValueError("may be left out, not set to null")
    return value


def _without_null(kind: Any) -> WithJsonSchema:
    return WithJsonSchema(TypeAdapter(kind).json_schema())


# PATCH fields that may be left out but not emptied: None in Python (left
# out), only the value in the JSON Schema; not_null refuses a null sent. Not
# `X | SkipJsonSchema[None]`: that is a union, whose errors name a branch in
# the field ("body.due_date.function-after[...]") instead of the field.
TitleChange = Annotated[ShortText | None, _without_null(ShortText)]
DescriptionChange = Annotated[LongText | None, _without_null(LongText)]
OwnerChange = Annotated[Person | None, _without_null(Person)]
LikelihoodChange = Annotated[Likelihood | None, _without_null(Likelihood)]
DueDateChange = Annotated[IsoDate | None, _without_null(IsoDate)]
StatusChange = Annotated[ActionStatus | None, _without_null(ActionStatus)]


# workflow.transition_capa: a lesson with the closure, and only then; a signature
# only on the moves that can be signed (domain.signatures.signed_move_of: to
# action_planned, to closed). Whether the CAPA's current state makes such a move
# a signed one is stored state, not the request's: a 409 there, not a 422.
SIGNED_TARGETS = [CapaStatus.action_planned.value, CapaStatus.closed.value]
LESSON_WITH_CLOSURE: dict[str, Any] = {"allOf": [
    {"if": {"properties": {"to": {"const": CapaStatus.closed.value}}, "required": ["to"]},
     "then": {"required": ["lesson"], "properties": {"lesson": {"type": "object"}}},
     "else": {"properties": {"lesson": {"type": "null"}}}},
    {"if": {"properties": {"to": {"enum": SIGNED_TARGETS}}, "required": ["to"]},
     "else": {"properties": {"signature": {"type": "null"}}}}]}

# domain.root_cause.submission_errors: what a submitted analysis needs (a draft
# may be incomplete). Its texts are never blank (LongText), so "present" is enough.
SUBMISSION_COMPLETE: dict[str, Any] = {
    "if": {"properties": {"status": {"const": AnalysisStatus.submitted.value}},
           "required": ["status"]},
    "then": {
        "required": ["problem_statement", "root_cause", "cause_category"],
        "properties": {"problem_statement": {"type": "string"},
                       "root_cause": {"type": "string"},
                       "cause_category": {"type": "string"}},
        # MIN_WHYS levels of why, or a justification of why fewer reach the root cause.
        "anyOf": [{"required": ["whys"], "properties": {"whys": {"minItems": MIN_WHYS}}},
                  {"required": ["short_chain_justification"],
                   "properties": {"short_chain_justification": {"type": "string"}}}]}}

# service.actions: an action marked done says what shows it, in the same request.
DONE_NEEDS_EVIDENCE: dict[str, Any] = {
    "if": {"properties": {"status": {"const": ActionStatus.done.value}}, "required": ["status"]},
    "then": {"required": ["completion_evidence"],
             "properties": {"completion_evidence": {"type": "string"}}}}

# service.actions.add_action: a new action does not start cancelled.
NEW_ACTION_STATUSES = [s.value for s in ActionStatus if s is not ActionStatus.cancelled]
