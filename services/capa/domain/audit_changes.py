"""What an audit entry changed, field by field (old -> new).

The trail already stores each edit's ``before`` and ``after`` (only the fields
that changed, for a PATCH; the status, for a move; the whole analysis, for a
root-cause save). The field-level list is derived from them when the trail is
read, never stored: the hashes cover exactly what was written, so entries
written before this list existed and entries written after it verify the same
way, and every entry - old or new - gets its list.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Entries that edit something the CAPA already had. The others record a new
# thing (opened, action_added, evidence_attached, signed, a verification, a
# reminder): their ``after`` is the thing itself, not a change of a field.
EDITS = frozenset({"updated", "status_changed", "root_cause_saved", "root_cause_submitted",
                   "action_updated", "effectiveness_planned"})
# Identifiers that say which record was edited; they are the same on both sides.
IDENTIFIERS = frozenset({"action_id"})


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: Any
    new: Any


def field_changes(action: str, before: Mapping[str, Any] | None,
                  after: Mapping[str, Any] | None) -> list[FieldChange]:
    """The fields an edit changed, in the order ``after`` lists them (then any the edit
    removed). A field absent on one side counts as None there; an empty list, an empty
    text and None are all "nothing", so a first draft lists only what was filled in."""
    if action not in EDITS:
        return []
    old, new = dict(before or {}), dict(after or {})
    names = [*new, *(name for name in old if name not in new)]
    return [FieldChange(name, old.get(name), new.get(name)) for name in names
            if name not in IDENTIFIERS
            and _meaning(old.get(name)) != _meaning(new.get(name))]


def _meaning(value: Any) -> Any:
    return None if value in ("", [], {}) else value
