"""Generic JSON sources signed per Standard Webhooks, mapped by per-source config.

The signature is checked at the HTTP edge (api/intake.py); what is here reads
a signed body into the fields of a new NC.
"""

import json
from typing import Any

from pydantic import BaseModel, Field

from shared.errors import Conflict, Invalid
from shared.events.base import Severity
from shared.vocabulary import Source

from .bounds import (
    AFFECTED_ITEM_CHARS,
    CATEGORY_CHARS,
    DESCRIPTION_CHARS,
    TITLE_CHARS,
    bounded,
    storable,
)
from .escalation import EscalationPolicy


class WebhookSource(BaseModel):
    """A generic JSON source: its Standard Webhooks secret and where our fields are
    in its payload (dotted paths, e.g. ``"issue.title"``)."""

    secret: str = Field(min_length=8)
    title: str = "title"
    description: str | None = "description"
    severity: str | None = "severity"
    external_ref: str | None = "id"
    category: str | None = "category"
    affected_item: str | None = "affected_item"
    default_severity: Severity = Severity.minor
    source: Source = Source.monitoring


class MappingFailed(Invalid):
    """The signed payload lacks what an NC needs; ``reason`` says what."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"The payload could not be mapped: {reason}.",
                         title="Unmappable payload")
        self.reason = reason


class WebhookReplayed(Conflict):
    """A Standard Webhooks id this source already delivered with another body."""

    def __init__(self, webhook_id: str) -> None:
        super().__init__("This webhook-id was already received with another body; "
                         "send a new event under a new webhook-id.", title="Reused webhook-id")
        self.webhook_id = webhook_id


def parse(body: bytes) -> Any:
    """The signed body as JSON."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise MappingFailed("the signed body is not JSON (or is nested too deeply)") from exc


def _at(payload: Any, path: str | None) -> Any:
    if not path:
        return None
    value = payload
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _text(value: Any, limit: int) -> str | None:
    """Prose from the payload, cut with a visible marker past ``limit``."""
    if value is None or isinstance(value, (dict, list)):
        return None
    return bounded(str(value).strip(), limit) or None


def _identifier(value: Any, limit: int) -> str | None:
    """A value matched exactly (severity label, reference): cut plainly."""
    if value is None or isinstance(value, (dict, list)):
        return None
    return storable(str(value).strip())[:limit] or None


def map_payload(name: str, config: WebhookSource, payload: Any,
                policy: EscalationPolicy) -> dict[str, Any]:
    """Fields for a new NC; MappingFailed names what is missing."""
    title = _text(_at(payload, config.title), TITLE_CHARS)
    if not title or len(title) < 3:
        raise MappingFailed(f"the payload has no usable title at '{config.title}'")
    raw_severity = _identifier(_at(payload, config.severity), 50)
    severity = (policy.severity_from_label(raw_severity) if raw_severity
                else config.default_severity)
    # external_ref holds "<source>:<ref>" in 200 characters (its column).
    ref = _identifier(_at(payload, config.external_ref), 199 - len(name))
    return {"title": title,
            "description": _text(_at(payload, config.description), DESCRIPTION_CHARS),
            "severity": severity, "source": config.source.value,
            "category": _text(_at(payload, config.category), CATEGORY_CHARS),
            "affected_item": _text(_at(payload, config.affected_item), AFFECTED_ITEM_CHARS),
            "external_ref": f"{name}:{ref}" if ref else None, "tags": [f"webhook:{name}"]}
