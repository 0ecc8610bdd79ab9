"""What a person reads: titles, lines, links and sections for e-mail and Slack.

Works on the CloudEvent envelope of a delivery (an event, a digest or a
test), so it needs nothing but the envelope and the public base URLs.
"""

from collections.abc import Mapping
from typing import Any

from ..domain.bulletin import BULLETIN_TYPE
from ..domain.owner_notices import OWNER_NOTICES
from ..domain.watches import Record, Watch
from ..domain.wording import (
    CAPA_STATUS,
    DECISION,
    ESCALATION_REASON,
    RESULT,
    SEVERITY,
    SOURCE,
    event_words,
    known,
    words,
)
from .bulletin_message import bulletin_message, bulletin_title
from .message_parts import Links, Message
from .messages_records import RECORD_MESSAGES

__all__ = ["Links", "Message", "bulletin_title", "describe", "footer", "watch_hint"]

DIGEST_TYPE = "capaflow.notification.digest.v1"
TEST_TYPE = "capaflow.notification.test.v1"


def watch_hint(watching: str | None, links: Links) -> list[str]:
    """Why a watcher gets this e-mail and how to stop: every watch e-mail says it."""
    watch = Watch.from_key(watching)
    if watch is None:
        return []
    noun = watch.record.noun
    page, settings = links.record_page(watch), links.settings_page()
    if page is None or settings is None:
        area = "capas" if watch.record is Record.capa else "nonconformities"
        return [f"You get this because you watch this {noun}. To stop, unwatch it: "
                f"DELETE /v1/watches/{area}/{watch.record_id} on the notifications API."]
    return [f"You get this because you watch this {noun}. To stop, open {page} and "
            "choose Unwatch.",
            f"Your watches and how you hear of them: {settings}"]


def _label(event_type: str) -> str:
    # capaflow.capa.closed.v1 -> "CAPA closed"; never a raw "management_review".
    return event_words(event_type)


def _headline(data: dict[str, Any]) -> str:
    number, title = data.get("number"), data.get("title")
    return " ".join(str(p) for p in (number, title and f"— {title}" if number else title) if p)


def footer(links: Links) -> list[str]:
    """Where a reader manages what they hear of: the UI's page, or no path at all
    (an API path is no use to a person reading an e-mail)."""
    settings = links.settings_page()
    return [f"Manage your notifications: {settings}"] if settings else []


def describe(envelope: dict[str, Any], links: Links, *,
             watching: str | None = None) -> Message:
    """The message of a delivery; ``watching``: its subscription's watch key, if any."""
    message = _describe(envelope, links)
    message.hint = watch_hint(watching, links) or footer(links)
    return message


def _describe(envelope: dict[str, Any], links: Links) -> Message:
    event_type = str(envelope.get("type", ""))
    data = envelope.get("data") or {}
    if event_type == TEST_TYPE:
        return Message("CAPAflow test notification",
                       ["This is a test event sent on request; no action is needed."])
    if event_type == DIGEST_TYPE:
        return _digest(data, links)
    if event_type == BULLETIN_TYPE:
        return bulletin_message(data, links)
    if (record := RECORD_MESSAGES.get(event_type)) is not None:
        return record(data, links)
    title = f"{_label(event_type)}: {_headline(data)}".rstrip(": ")
    lines = [line for line in (_change(data),) if line]
    for key, label, table in _FIELDS:
        if data.get(key):
            # A reason is a person's text, or an escalation's value in words.
            value = (known(data[key], table) if key == "reason" and table
                     else words(data[key], table) if table else data[key])
            lines.append(f"{label}: {value}")
    if data.get("tags"):
        lines.append("Tags: " + ", ".join(str(t) for t in data["tags"]))
    if event_type in OWNER_NOTICES:
        lines += _notice_lines(data, CAPA_STATUS)
    return Message(title, lines, links.for_data(data))


# The fields a message shows, in this order: (key, label, the words of its
# values, or None for text shown as it is).
_FIELDS: tuple[tuple[str, str, Mapping[str, str] | None], ...] = (
    ("severity", "Severity", SEVERITY), ("source", "Source", SOURCE),
    ("category", "Category", None), ("owner", "Owner", None),
    ("reason", "Reason", ESCALATION_REASON),
    ("decision", "Decision", DECISION),
    ("effectiveness_result", "Effectiveness result", RESULT),
    ("result", "Effectiveness result", RESULT), ("closed_by", "Closed by", None),
    ("what_to_do_differently", "What to do differently", None))


def _change(data: dict[str, Any]) -> str | None:
    """What a status change did, in words: "Status: Implementing → Verifying effectiveness"."""
    before, after = data.get("from_status"), data.get("to_status")
    if not (before and after):
        return None
    return f"Status: {words(before, CAPA_STATUS)} → {words(after, CAPA_STATUS)}"


def _notice_lines(data: dict[str, Any], statuses: Mapping[str, str]) -> list[str]:
    """What a reminder or overdue notice asks of its owner: what, by when."""
    lines = []
    if data.get("description"):
        lines.append(f"Action: {data['description']}")
    if data.get("action_owner"):
        lines.append(f"Action owner: {data['action_owner']}")
    if data.get("due_date"):
        left = data.get("days_left")
        when = ("" if not isinstance(left, int) else " (today)" if left == 0
                else f" (in {left} day{'s' if left != 1 else ''})")
        lines.append(f"Due date: {data['due_date']}{when}")
    if data.get("check_date"):
        lines.append(f"Effectiveness check planned for: {data['check_date']}")
    if data.get("criteria"):
        lines.append(f"Criteria: {data['criteria']}")
    if data.get("status"):
        lines.append(f"Status: {words(data['status'], statuses)}")
    return lines


def _digest(data: dict[str, Any], links: Links) -> Message:
    def items(rows: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
        return [_digest_event(r, links) if kind == "event" and r.get("type") in RECORD_MESSAGES
                else {"text": (f"{_label(r['type'])}: " if kind == "event" else "")
                      + (_headline(r.get("data", r)) or str(r.get("subject", "")))
                      + (f" ({change})" if (change := _change(r.get("data", r))) else ""),
                      "link": links.for_data(r.get("data", r))} for r in rows]

    return Message(
        f"CAPAflow {data.get('mode', '')} digest {data.get('period_start', '')[:10]} to "
        f"{data.get('period_end', '')[:10]}",
        [f"{len(data.get('events', []))} matching events, {len(data.get('lessons', []))} new "
         f"lessons, {len(data.get('open_capas', []))} open CAPAs "
         f"({len(data.get('overdue_capas', []))} overdue)."],
        None,
        [{"heading": "Events", "items": items(data.get("events", []), "event")},
         {"heading": "New lessons learned", "items": items(data.get("lessons", []), "lesson")},
         {"heading": "Overdue CAPAs", "items": items(data.get("overdue_capas", []), "capa")},
         {"heading": "Open CAPAs", "items": items(data.get("open_capas", []), "capa")}],
    )


def _digest_event(row: dict[str, Any], links: Links) -> dict[str, Any]:
    """A review, supplier or lesson event in a digest: its message's own subject."""
    message = RECORD_MESSAGES[row["type"]](row.get("data") or {}, links)
    return {"text": message.title, "link": message.link}
