"""Generic JSON sources signed per Standard Webhooks, mapped by per-source config."""

import json
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from ..domain import (
    AFFECTED_ITEM_CHARS,
    CATEGORY_CHARS,
    DESCRIPTION_CHARS,
    TITLE_CHARS,
    EscalationPolicy,
    bounded,
    storable,
)
from ..settings import WebhookSource


class SignatureRejected(Exception):
    pass


class MappingFailed(Exception):
    pass


def verify(config: WebhookSource, body: bytes, headers: dict[str, str]) -> Any:
    """The parsed payload if the signature is valid and fresh (5-minute tolerance)."""
    try:
        Webhook(config.secret).verify(body, headers, json_parse=False)
    except WebhookVerificationError as exc:
        raise SignatureRejected(str(exc)) from exc
    except ValueError as exc:
        # A body that is not UTF-8, or a malformed signature header: nothing a
        # sender following the standard would produce, so not authenticated.
        raise SignatureRejected("malformed signature or body encoding") from exc
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
