"""Cross-field rules of the CAPA requests, as JSON Schema (if/then/else) for the
OpenAPI document: the rules the use cases enforce (422), stated where clients
and generated tests can see them. The field types alone cannot say these."""

from typing import Any

from .domain import ActionStatus, CapaStatus
from .domain.root_cause import MIN_WHYS, AnalysisStatus

# workflow.transition_capa: a lesson with the closure, and only then.
LESSON_WITH_CLOSURE: dict[str, Any] = {
    "if": {"properties": {"to": {"const": CapaStatus.closed.value}}, "required": ["to"]},
    "then": {"required": ["lesson"], "properties": {"lesson": {"type": "object"}}},
    "else": {"properties": {"lesson": {"type": "null"}}}}

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
