"""What a person reads: titles, lines, links and sections for e-mail and Slack.

Works on the CloudEvent envelope of a delivery (an event, a digest or a
test), so it needs nothing but the envelope and the public base URLs.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..domain.bulletin import BULLETIN_TYPE
from ..domain.owner_notices import OWNER_NOTICES
from ..domain.watches import Record, Watch
from ..domain.wording import (
    CAPA_STATUS,
    DECISION,
    RESULT,
    SCAR_STATUS,
    SEVERITY,
    SOURCE,
    words,
)

DIGEST_TYPE = "capaflow.notification.digest.v1"
TEST_TYPE = "capaflow.notification.test.v1"


@dataclass
class Message:
    title: str
    lines: list[str] = field(default_factory=list)
    link: str | None = None
    sections: list[dict[str, Any]] = field(default_factory=list)
    # Why the reader gets it and how to stop (a watch's unwatch hint).
    hint: list[str] = field(default_factory=list)

    def context(self) -> dict[str, Any]:
        return {"title": self.title, "lines": self.lines, "link": self.link,
                "sections": self.sections, "hint": self.hint}


@dataclass(frozen=True)
class Links:
    capa_base_url: str
    nonconformity_base_url: str
    # The web UI, when there is one: people get its pages, which their browser
    # session opens, instead of the JSON API, which wants a bearer token.
    ui_base_url: str | None = None

    def for_data(self, data: dict[str, Any]) -> str | None:
        if self.ui_base_url:
            ui = self.ui_base_url.rstrip("/")
            if data.get("capa_id"):
                return f"{ui}/capas/{data['capa_id']}"
            if data.get("nonconformity_id"):
                return f"{ui}/nonconformities/{data['nonconformity_id']}"
            return None
        if data.get("capa_id"):
            return f"{self.capa_base_url.rstrip('/')}/v1/capas/{data['capa_id']}"
        if data.get("nonconformity_id"):
            return (f"{self.nonconformity_base_url.rstrip('/')}/v1/nonconformities/"
                    f"{data['nonconformity_id']}")
        return None

    def record_page(self, watch: Watch) -> str | None:
        """The UI page of a watched record (where its Unwatch button is)."""
        if not self.ui_base_url:
            return None
        area = "capas" if watch.record is Record.capa else "nonconformities"
        return f"{self.ui_base_url.rstrip('/')}/{area}/{watch.record_id}"

    def settings_page(self) -> str | None:
        """The UI page of a person's own notification settings."""
        return f"{self.ui_base_url.rstrip('/')}/my/notifications" if self.ui_base_url else None


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
    # capaflow.capa.closed.v1 -> "CAPA closed"
    parts = event_type.split(".")
    if len(parts) >= 4:
        aggregate = {"capa": "CAPA", "nonconformity": "Nonconformity",
                     "lesson": "Lesson", "scar": "SCAR"}.get(parts[1], parts[1].title())
        return f"{aggregate} {parts[2].replace('_', ' ')}"
    return event_type


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
        return _bulletin(data, links)
    title = f"{_label(event_type)}: {_headline(data)}".rstrip(": ")
    lines = [line for line in (_change(data),) if line]
    for key, label, table in _FIELDS:
        if data.get(key):
            value = words(data[key], table) if table else data[key]
            lines.append(f"{label}: {value}")
    if data.get("tags"):
        lines.append("Tags: " + ", ".join(str(t) for t in data["tags"]))
    if event_type in OWNER_NOTICES:
        lines += _notice_lines(data, SCAR_STATUS if ".scar." in event_type else CAPA_STATUS)
    return Message(title, lines, links.for_data(data))


# The fields a message shows, in this order: (key, label, the words of its
# values, or None for text shown as it is).
_FIELDS: tuple[tuple[str, str, Mapping[str, str] | None], ...] = (
    ("severity", "Severity", SEVERITY), ("source", "Source", SOURCE),
    ("category", "Category", None), ("owner", "Owner", None), ("reason", "Reason", None),
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
    if data.get("scar_number"):
        lines.append(f"Supplier corrective action request: {data['scar_number']} to "
                     f"{data.get('supplier_code')}")
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
        return [{"text": (f"{_label(r['type'])}: " if kind == "event" else "")
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


def bulletin_title(data: dict[str, Any]) -> str:
    return f"CAPAflow lessons-learned bulletin {data.get('month', '')}".strip()


def _bulletin(data: dict[str, Any], links: Links) -> Message:
    """The month's lessons, each with what to do differently and a link to its CAPA."""
    lessons = data.get("lessons") or []
    return Message(
        bulletin_title(data),
        [f"{len(lessons)} lesson{'s' if len(lessons) != 1 else ''} learned from CAPAs closed "
         f"in {data.get('month', 'the month')}: what went wrong, its root cause and what "
         "to do differently."],
        None,
        [{"heading": "Lessons learned",
          "items": [{"text": f"{_lesson_headline(lesson)}: "
                             f"{lesson.get('what_to_do_differently') or ''}",
                     "link": links.for_data(lesson)} for lesson in lessons]}],
    )


def _lesson_headline(lesson: dict[str, Any]) -> str:
    return _headline({"number": lesson.get("capa_number"), "title": lesson.get("title")})
