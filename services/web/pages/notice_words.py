"""A subscription in plain words, for the "My notifications" page: what it hears
of, how and when — no event-type globs, no ids.

Not a page module (no router): my_notifications.py uses it.
"""

from typing import Any

from shared.vocabulary import DeliveryMode

WHEN = {DeliveryMode.immediate.value: "right away",
        DeliveryMode.daily.value: "in a daily digest",
        DeliveryMode.weekly.value: "in a weekly digest"}
HOW = {"email": "by e-mail", "webhook": "to a webhook", "slack": "in Slack"}
# Event-type patterns as people say them; a pattern not listed is "some kinds of events".
AREAS = {"capaflow.capa.*": "CAPA events", "capaflow.nonconformity.*": "nonconformity events",
         "capaflow.lesson.*": "lessons learned", "capaflow.*": "all events", "*": "all events"}
_NOUNS = {"capa": "CAPA", "nonconformity": "nonconformity", "lesson": "lesson"}


def event_kind(pattern: str) -> str:
    """``capaflow.capa.*`` -> "CAPA events", ``capaflow.capa.closed.v1`` -> "CAPA closed"."""
    if pattern in AREAS:
        return AREAS[pattern]
    parts = pattern.split(".")
    if len(parts) == 4 and parts[0] == "capaflow" and parts[1] in _NOUNS \
            and not any(c in pattern for c in "*?[]"):
        return f"{_NOUNS[parts[1]]} {parts[2].replace('_', ' ')}"
    return "some kinds of events"


def what(filter_: dict[str, Any]) -> str:
    """What a subscription's filter lets through, as one phrase."""
    kinds = sorted({event_kind(p) for p in filter_.get("event_types") or ()})
    phrase = ", ".join(kinds) if kinds else "all events"
    conditions = []
    if filter_.get("min_severity"):
        conditions.append(f"of severity {filter_['min_severity']} or worse")
    for key, words in (("sources", "from"), ("categories", "in category"),
                       ("tags", "tagged"), ("owners", "owned by")):
        if filter_.get(key):
            conditions.append(f"{words} {' or '.join(filter_[key])}")
    if filter_.get("capa_id"):
        conditions.append("of one CAPA")
    if filter_.get("nonconformity_id"):
        conditions.append("of one nonconformity")
    return " ".join([phrase, *conditions])


def watch_label(sub: dict[str, Any]) -> str:
    """How a watch names its record: "CAPA-2026-00012 Seal leak", or "a CAPA"."""
    record = "CAPA" if sub["watch"]["record"] == "capa" else "nonconformity"
    return str(sub.get("description") or f"a {record}")


def watch_terms(sub: dict[str, Any]) -> str:
    """The rest of "You watch <record> — every change, by e-mail to ann@…, right away."."""
    return (f"every change, by e-mail to {sub['target']}, "
            f"{WHEN.get(sub['mode'], sub['mode'])}.")


def subscription_sentence(sub: dict[str, Any]) -> str:
    """"CAPA events of severity major or worse, to a webhook (https://…), right away"."""
    how, phrase = HOW.get(sub["channel"], sub["channel"]), what(sub.get("filter") or {})
    return (f"{phrase[:1].upper()}{phrase[1:]}, {how} ({sub['target']}), "
            f"{WHEN.get(sub['mode'], sub['mode'])}.")
