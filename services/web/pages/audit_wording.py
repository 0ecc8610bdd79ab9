"""A CAPA audit entry in words: what it changed ("Owner: (nothing) → erin") and counts that
say "1 entry", not "1 entries".

The capa API lists each entry's field-level ``changes`` (field, old, new), derived
from what the entry stores; this module only names the fields and shows the
values. Pure: no web framework.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from .choices import ACTION_STATUS_LABELS, CAPA_STATE_LABELS, CAUSE_LABELS

# The labels the CAPA page gives these fields; any other field is shown by its
# name in words ("root_cause" -> "Root cause").
FIELD_LABELS: dict[str, str] = {
    "owner": "Owner", "due_date": "Due date", "likelihood": "Likelihood",
    "supplier_code": "Supplier",
    "risk_score": "Risk", "title": "Title", "description": "Description",
    "status": "Status", "reopen_count": "Times reopened",
    "root_cause_status": "Root-cause analysis",
    "problem_statement": "Problem statement", "whys": "5 Whys", "root_cause": "Root cause",
    "cause_category": "Cause category", "contributing_factors": "Contributing factors",
    "short_chain_justification": "Why fewer levels", "criteria": "Criteria",
    "check_date": "Check date", "completion_evidence": "Completion evidence",
}
# "status" is the CAPA's, except in these entries: the analysis's (draft, submitted)
# or the action's (planned, in progress, ...), each named and worded as its own.
ANALYSIS_ENTRIES = ("root_cause_saved", "root_cause_submitted")
ANALYSIS_STATUS_LABELS = {"draft": "Draft", "submitted": "Submitted"}
STATUS_OF = {**{action: ("Analysis", ANALYSIS_STATUS_LABELS) for action in ANALYSIS_ENTRIES},
             "action_updated": ("Action status", ACTION_STATUS_LABELS)}
# Long texts are cut in the table; the full text is on the page's own sections.
MAX_VALUE = 80
NOTHING = "\u2013"  # an en dash, as the facts show an empty field


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``1 entry``, ``2 entries``, ``0 entries``."""
    word = singular if count == 1 else (plural_form or _plural(singular))
    return f"{count} {word}"


def _plural(word: str) -> str:
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    return word + ("es" if word.endswith(("s", "x", "ch", "sh")) else "s")


def label(name: str) -> str:
    return FIELD_LABELS.get(name, name.replace("_", " ").capitalize())


def value_text(name: str, value: Any) -> str:
    """A stored value as the page shows it."""
    if value is None or value == "" or value == []:
        return NOTHING
    if name == "whys" and isinstance(value, list):
        return plural(len(value), "level")
    if name == "status":
        return CAPA_STATE_LABELS.get(str(value), str(value).replace("_", " "))
    if name == "cause_category":
        return CAUSE_LABELS.get(str(value), str(value))
    if isinstance(value, list):
        text = "; ".join(str(v) for v in value)
    else:
        text = str(value)
    return text if len(text) <= MAX_VALUE else text[:MAX_VALUE - 1] + "…"


def change_lines(entry: Mapping[str, Any]) -> list[str]:
    """``["Owner: \u2013 → erin", "Due date: 2027-01-10 → 2027-01-20"]``."""
    changes: Sequence[Mapping[str, Any]] = entry.get("changes") or []
    own_status = STATUS_OF.get(str(entry.get("action")))
    lines = []
    for c in changes:
        if c["field"] == "status" and own_status:
            name, words = own_status
            old, new = (words.get(str(v), value_text("", v)) if v is not None else NOTHING
                        for v in (c.get("old"), c.get("new")))
            lines.append(f"{name}: {old} → {new}")
        else:
            lines.append(f"{label(c['field'])}: {value_text(c['field'], c.get('old'))} → "
                         f"{value_text(c['field'], c.get('new'))}")
    return lines


def change_summary(entry: Mapping[str, Any]) -> str:
    """The changes of one entry in one line, ``;``-separated ('' when none)."""
    return "; ".join(change_lines(entry))
