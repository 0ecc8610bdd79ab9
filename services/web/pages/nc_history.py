"""An NC's history as people read it: actions and fields by their labels, vocabulary
values by their labels, and the NCs and CAPAs an entry refers to by their numbers
(links), never by their UUIDs.

The nonconformity service records each change as it stored it (``capa_id``,
``duplicate_of`` as ids, ``status`` as values); this module words it for the NC page.
Not a page module (no router): nonconformities.py uses it.
"""

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

from shared.vocabulary import CapaLink, NonconformityStatus, Severity, Source

from ..client import UserApi
from . import nc_refs
from .choices import NOTHING, label

# The nonconformity service's history actions (its own names, not statuses).
ACTIONS = dict(
    reported="Reported", triaged="Triaged", updated="Details changed",
    correction_recorded="Correction recorded", closed="Closed", reopened="Reopened",
    capa_opened="CAPA opened", linked_to_capa="Linked to a CAPA",
    capa_cancelled="CAPA cancelled", joins_requested_capa="Joins a CAPA being opened",
    escalated="Escalated", evidence_attached="Evidence attached",
    refired="Alert fired again", alert_resolved="Alert resolved")
FIELDS = {"duplicate_of": "Duplicate of", "capa_id": "CAPA",
          "escalated_nonconformity": "With the CAPA requested for",
          "content_type": "File type", "size": "Size (bytes)",
          "occurrences_in_window": "Occurrences in the window", "reason": "Reason"}
VOCABULARY = {"severity": Severity, "status": NonconformityStatus, "source": Source,
              "capa_link": CapaLink}
# Ids of other NCs an entry may name; shown by their numbers.
NC_REFERENCES = ("duplicate_of", "escalated_nonconformity")
ESCALATION_REASONS = {"severity": "Severity", "recurrence": "Recurrence",
                      "audit_finding": "Audit finding"}
MAX_LOOKUPS = 20  # distinct referenced NCs looked up per page


@dataclass(frozen=True)
class Change:
    label: str
    text: str
    href: str | None = None


@dataclass(frozen=True)
class Entry:
    at: str
    actor: str
    what: str
    changes: list[Change]
    reason: str | None


def _words(name: str) -> str:
    return label(name, "")  # "occurrence_count" -> "Occurrence count"


def _is_uuid(value: object) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def _value(key: str, value: Any) -> str:
    if value is None or value == "":
        return NOTHING
    if key in VOCABULARY:
        return label(value, VOCABULARY[key])
    if key == "reason" and value in ESCALATION_REASONS:
        return ESCALATION_REASONS[value]
    return str(value)


def _changes(changes: dict[str, Any], numbers: dict[str, str | None],
             nc: dict[str, Any]) -> list[Change]:
    shown: list[Change] = []
    for key, value in changes.items():
        if key in ("capa_number", "attachment_id"):
            continue  # capa_number goes with capa_id; the file is named by its filename
        name = FIELDS.get(key) or _words(key)
        if key == "capa_id":
            number = changes.get("capa_number") or (
                nc.get("capa_number") if str(nc.get("capa_id")) == str(value) else None)
            shown.append(Change(name, number or "the CAPA", f"/capas/{value}"))
        elif key in NC_REFERENCES:
            if value:  # a triage other than "duplicate" records an empty duplicate_of
                shown.append(Change(name, numbers.get(str(value)) or "another nonconformity",
                                    f"/nonconformities/{value}"))
        elif isinstance(value, dict) and "after" in value:
            shown.append(Change(name, f"{_value(key, value.get('before'))} → "
                                      f"{_value(key, value.get('after'))}"))
        elif not _is_uuid(value):  # an id of something this page cannot name
            shown.append(Change(name, _value(key, value)))
    return shown


async def history_entries(api: UserApi, nc: dict[str, Any],
                          history: list[dict[str, Any]]) -> list[Entry]:
    """The entries of ``history`` as the NC page shows them (numbers looked up once each)."""
    ids = list(dict.fromkeys(str(entry["changes"][key]) for entry in history
                             for key in NC_REFERENCES
                             if (entry.get("changes") or {}).get(key)))[:MAX_LOOKUPS]
    found = await asyncio.gather(*(nc_refs.number_of(api, nc_id) for nc_id in ids))
    numbers = dict(zip(ids, found, strict=True))
    return [Entry(at=entry["at"], actor=entry["actor"],
                  what=ACTIONS.get(entry["action"]) or _words(entry["action"]),
                  changes=_changes(entry.get("changes") or {}, numbers, nc),
                  reason=entry.get("reason"))
            for entry in history]
