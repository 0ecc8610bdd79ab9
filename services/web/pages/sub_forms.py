"""The subscription form: posted fields -> the notifications API's request body, and
the API's refusal -> messages next to the fields that caused it.

Not a page module (no router): subscriptions.py uses it.
"""

import uuid
from typing import Any

from ..client import ApiError
from .choices import CHANNEL_LABELS, MODE_LABELS, labelled
from .forms import words
from .wording import plain

PEOPLE = ("reporter", "engineer", "verifier", "manager")
CHANNELS = labelled(CHANNEL_LABELS)
MODES = labelled(MODE_LABELS)
# Filter fields typed as lists ("a, b c"), in the order the form shows them.
LIST_FILTERS = ("event_types", "sources", "categories", "tags", "owners")
ID_FILTERS = ("nonconformity_id", "capa_id")
# Refusals with a message but no `errors` list, tied to the field they are about.
TITLED_FIELDS = {"Target refused": "target", "Invalid target": "target"}
FIELDS = {"channel", "target", "mode", "description", "owner", "min_severity", *LIST_FILTERS,
          *ID_FILTERS}


def subscription_body(values: dict[str, str], *, may_set_owner: bool
                      ) -> tuple[dict[str, Any], dict[str, str]]:
    """The POST /v1/subscriptions body, and errors the UI can see before asking.

    Only what a browser form cannot express is checked here (ids that are no
    UUID); everything else is the API's to judge, so its rules live in one place.
    """
    errors: dict[str, str] = {}
    flt: dict[str, Any] = {name: words(values.get(name, "")) for name in LIST_FILTERS}
    flt = {k: v for k, v in flt.items() if v}
    if values.get("min_severity"):
        flt["min_severity"] = values["min_severity"]
    for name in ID_FILTERS:
        value = values.get(name, "")
        if not value:
            continue
        try:
            flt[name] = str(uuid.UUID(value))
        except ValueError:
            errors[name] = "Give the id (a UUID) as shown on its page, or leave this empty."
    body: dict[str, Any] = {"channel": values.get("channel", ""),
                            "target": values.get("target", ""),
                            "mode": values.get("mode") or "immediate",
                            "active": values.get("active") == "on", "filter": flt}
    if values.get("description"):
        body["description"] = values["description"]
    if may_set_owner and values.get("owner"):
        body["owner"] = values["owner"]
    return body, errors


def form_errors(exc: ApiError) -> tuple[dict[str, str], list[str]]:
    """API field paths -> form field names ("body.filter.event_types.0" ->
    "event_types"), and the messages no field of the form shows."""
    errors: dict[str, str] = {}
    unplaced: list[str] = []
    for error in exc.errors:
        parts = str(error.get("field", "")).split(".")
        if parts and parts[0] == "body":
            parts = parts[1:]
        if len(parts) > 1 and parts[0] == "filter":
            parts = parts[1:]
        name = parts[0] if parts else ""
        if name:
            message = plain(str(error.get("message", "")))
            if len(parts) > 1 and parts[1].isdigit():
                message = f"Entry {int(parts[1]) + 1}: {message}"
            if name in FIELDS:
                errors.setdefault(name, message)
            else:
                unplaced.append(f"{'.'.join(parts)}: {message}")
        elif error.get("message"):  # a rule about the whole request
            unplaced.append(plain(str(error["message"])))
    if not errors and not unplaced and exc.title in TITLED_FIELDS:
        errors[TITLED_FIELDS[exc.title]] = str(exc)
    return errors, unplaced
