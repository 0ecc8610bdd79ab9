"""CAPA rules. Pure Python: no framework, database or bus imports.

``workflow`` is the state machine and its guards, ``root_cause`` the 5-Whys
form rules, ``audit_chain`` the hash-chained audit trail, ``review`` the
management-review figures (ISO 9001 9.3).
"""

from shared.vocabulary import ActionKind, ActionStatus, CapaKind, CapaStatus

from .workflow import (
    EffectivenessResult,
    capa_number,
    due_date_for,
    risk_score,
)

__all__ = [
    "ActionKind",
    "ActionStatus",
    "CapaKind",
    "CapaStatus",
    "EffectivenessResult",
    "capa_number",
    "due_date_for",
    "risk_score",
]
