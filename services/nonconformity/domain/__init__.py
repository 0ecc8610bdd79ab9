"""Nonconformity rules. Pure Python: no framework, database or bus imports.

``nonconformity`` is the vocabulary (statuses, sources, findings, numbers),
``lifecycle`` the guards of each move, ``escalation`` the policy and its
verdict, ``recurrence`` what counts as the same problem in the window and
which earlier CAPA a recurrence joins, ``bounds`` the text limits, ``alerts``
and ``webhooks`` read monitoring payloads into NC fields, ``weekly`` folds the
per-week report.
"""

from shared.vocabulary import CapaLink, NonconformityStatus, Source

from .bounds import TRUNCATION_MARKER, bounded, storable, web_link
from .escalation import (
    EscalationDecision,
    EscalationPolicy,
    EscalationReason,
    Verdict,
    decide,
    decide_escalation,
)
from .lifecycle import (
    NonconformityNotFound,
    TransitionRefused,
    check_can_close,
    check_can_reopen,
    check_editable,
    triage_outcome,
)
from .nonconformity import (
    CLAUSE_PATTERN,
    FINDING_SEVERITY,
    OPEN_STATUSES,
    FindingType,
    ProblemRecord,
    TriageDecision,
    nonconformity_number,
    recurrence_key,
)

__all__ = [
    "CLAUSE_PATTERN",
    "FINDING_SEVERITY",
    "OPEN_STATUSES",
    "TRUNCATION_MARKER",
    "CapaLink",
    "EscalationDecision",
    "EscalationPolicy",
    "EscalationReason",
    "FindingType",
    "NonconformityNotFound",
    "NonconformityStatus",
    "ProblemRecord",
    "Source",
    "TransitionRefused",
    "TriageDecision",
    "Verdict",
    "bounded",
    "check_can_close",
    "check_can_reopen",
    "check_editable",
    "decide",
    "decide_escalation",
    "nonconformity_number",
    "recurrence_key",
    "storable",
    "triage_outcome",
    "web_link",
]
