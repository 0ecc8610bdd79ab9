"""The messages of the review, supplier and lesson events, in plain words.

A manager reads "Management review held on 2026-12-02: 3 decisions" and the
decisions, not "Management_Review recorded"; a SCAR's message names the SCAR,
the supplier by name, the CAPA and the due date. Each function takes an event's
data (older events may lack the optional fields: the message then says less,
never a raw value) and returns its message without the footer, which
service.messages adds.
"""

from collections.abc import Callable, Mapping
from typing import Any

from ..domain.wording import (
    CAUSE,
    DIRECTION,
    METRIC,
    SCAR_STATUS,
    SUPPLIER_CRITICALITY,
    known,
    measure,
    words,
)
from .message_parts import Links, Message

Describe = Callable[[dict[str, Any], Links], Message]


def capa_headline(number: object, title: object) -> str:
    """``CAPA-2026-00001 — Seal leaks``, or whichever of the two is known."""
    return " — ".join(str(p) for p in (number, title) if p)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _shorten(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


# --- Quality objectives --------------------------------------------------------

def _objective(data: dict[str, Any], links: Links, *, off: bool) -> Message:
    unit = data.get("unit")
    metric = data.get("metric_label") or known(data.get("metric", ""), METRIC)
    lines = [f"Metric: {metric}"]
    if data.get("current") is not None:
        lines.append(f"Current value: {measure(data['current'], unit)} (the latest period)")
    lines.append(f"Target: {known(data.get('direction', ''), DIRECTION)} "
                 f"{measure(data.get('target'), unit)} by {data.get('deadline')}")
    if data.get("projected") is not None:
        lines.append(f"Projected by the deadline: {measure(data['projected'], unit)}")
    if data.get("reason"):
        lines.append(f"Why: {data['reason']}")
    if data.get("owner"):
        lines.append(f"Owner: {data['owner']}")
    state = "off track" if off else "back on track"
    return Message(f"Quality objective {state}: {data.get('title', '')}".rstrip(": "), lines,
                   links.page(f"/objectives/{data.get('objective_id')}",
                              f"/v1/objectives/{data.get('objective_id')}"))


# --- Management review -----------------------------------------------------------

def _review_recorded(data: dict[str, Any], links: Links) -> Message:
    count = int(data.get("decisions") or 0)
    lines = []
    if data.get("attendees"):
        lines.append("Attendees: " + ", ".join(str(a) for a in data["attendees"]))
    if data.get("pack_since") and data.get("pack_until"):
        lines.append(f"Review pack: {str(data['pack_since'])[:10]} to "
                     f"{str(data['pack_until'])[:10]} (until excluded), SHA-256 "
                     f"{str(data.get('pack_sha256', ''))[:12]}…")
    if data.get("recorded_by"):
        lines.append(f"Recorded by: {data['recorded_by']}")
    texts = [str(t) for t in data.get("decision_texts") or []]
    sections = [{"heading": "Decisions", "items": [{"text": t, "link": None} for t in texts]}]
    return Message(f"Management review held on {data.get('held_on')}: "
                   f"{_plural(count, 'decision')}", lines,
                   links.page(f"/review-meetings/{data.get('review_id')}",
                              f"/v1/management-reviews/{data.get('review_id')}"),
                   sections if texts else [])


def _decision_made(data: dict[str, Any], links: Links) -> Message:
    text = str(data.get("text") or "")
    lines = []
    if data.get("held_on"):
        lines.append(f"Decided at the management review of {data['held_on']}.")
    lines += [f"Decision: {text}", f"Owner: {data.get('owner')}",
              f"Due date: {data.get('due_date')}"]
    capa = capa_headline(data.get("capa_number"), data.get("capa_title"))
    if data.get("action_id"):
        lines.append(f"It added an action to {capa or 'a CAPA'}.")
    elif data.get("capa_id"):
        lines.append(f"It opened {capa or 'a CAPA'}.")
    else:
        lines.append("It opened no CAPA and no action.")
    link = (links.for_data({"capa_id": data["capa_id"]}) if data.get("capa_id")
            else links.page(f"/review-meetings/{data.get('review_id')}",
                              f"/v1/management-reviews/{data.get('review_id')}"))
    return Message(f"Management review decision: {_shorten(text)}", lines, link)


# --- Suppliers and SCARs ----------------------------------------------------------

def supplier_words(data: Mapping[str, Any]) -> str:
    """The supplier by name, its code beside it; by code alone on older events."""
    name, code = data.get("supplier_name"), data.get("supplier_code")
    return f"{name} ({code})" if name and code else str(name or code or "the supplier")


def _scar(data: dict[str, Any], links: Links, event: str) -> Message:
    scar, supplier = data.get("scar_number", "SCAR"), supplier_words(data)
    name = data.get("supplier_name") or data.get("supplier_code") or "the supplier"
    capa = capa_headline(data.get("number"), data.get("title"))
    due = data.get("due_date")
    titles = {
        "sent": f"{scar} {'sent again' if data.get('resent') else 'sent'} to {name} for "
                f"{capa}, due {due}",
        "responded": f"{scar}: {name} responded (for {capa})",
        "evidence_attached": f"{scar}: {name} attached a file to their draft response",
        "evidence_removed": f"{scar}: {name} removed a file from their draft response",
        "accepted": f"{scar}: the response of {name} was accepted",
        "rejected": f"{scar}: the response of {name} was rejected, new due date {due}",
        "revoked": f"{scar} to {name} withdrawn",
        "due_soon": f"{scar} to {name} due {_when(data.get('days_left'))}({due})",
        "overdue": f"{scar} to {name} overdue: no accepted response by {due}",
    }
    lines = [f"Supplier: {supplier}", f"CAPA: {capa}"]
    if due:
        lines.append(f"Response due: {due}")
    if event == "sent" and data.get("resent"):
        lines.append("A new link was e-mailed to the supplier; the earlier one no longer works.")
    if event == "responded":
        lines += [f"Submission: {data.get('submission')}",
                  f"Corrective actions: {data.get('corrective_actions')}",
                  f"Evidence files: {data.get('evidence_files')}",
                  f"On time: {'yes' if data.get('on_time') else 'no'}"]
    if data.get("status"):
        lines.append(f"Status: {words(data['status'], SCAR_STATUS)}")
    if data.get("reason"):
        lines.append(f"Reason: {data['reason']}")
    if data.get("owner"):
        lines.append(f"CAPA owner: {data['owner']}")
    link = links.page(f"/scars/{data.get('scar_id')}", f"/v1/scars/{data.get('scar_id')}")
    return Message(titles.get(event) or f"{scar}: {event.replace('_', ' ')}", lines, link)


def _when(days_left: object) -> str:
    if not isinstance(days_left, int):
        return ""
    return "today " if days_left == 0 else f"in {_plural(days_left, 'day')} "


def _supplier(data: dict[str, Any], links: Links, event: str) -> Message:
    name = f"{data.get('name')} ({data.get('code')})"
    lines = [f"Criticality: {words(data.get('criticality', ''), SUPPLIER_CRITICALITY)}"]
    if data.get("changed"):
        lines.append("Changed: " + ", ".join(words(c, {}).lower() for c in data["changed"]))
    by = data.get("registered_by") or data.get("updated_by")
    if by:
        lines.append(f"By: {by}")
    return Message(f"Supplier {event}: {name}", lines,
                   links.page(f"/suppliers/{data.get('code')}",
                              f"/v1/suppliers/{data.get('code')}"))


# --- Lessons learned --------------------------------------------------------------

def lesson_lines(data: Mapping[str, Any]) -> list[str]:
    """What went wrong, its root cause and what to do differently: the lesson."""
    lines = []
    if data.get("problem"):
        lines.append(f"What went wrong: {data['problem']}")
    if data.get("root_cause"):
        category = data.get("cause_category")
        lines.append(f"Root cause: {data['root_cause']}"
                     + (f" ({words(category, CAUSE)})" if category else ""))
    if data.get("what_to_do_differently"):
        lines.append(f"What to do differently: {data['what_to_do_differently']}")
    return lines


def _lesson(data: dict[str, Any], links: Links) -> Message:
    capa = capa_headline(data.get("capa_number"), None)
    title = f"Lesson learned{f' from {capa}' if capa else ''}: {data.get('title', '')}"
    lines = lesson_lines(data)
    if data.get("tags"):
        lines.append("Tags: " + ", ".join(str(t) for t in data["tags"]))
    return Message(title.rstrip(": "), lines, links.for_data(data))


def _scar_message(event: str) -> Describe:
    return lambda data, links: _scar(data, links, event)


def _supplier_message(event: str) -> Describe:
    return lambda data, links: _supplier(data, links, event)


RECORD_MESSAGES: Mapping[str, Describe] = {
    "capaflow.objective.off_track.v1": lambda d, links: _objective(d, links, off=True),
    "capaflow.objective.on_track.v1": lambda d, links: _objective(d, links, off=False),
    "capaflow.management_review.recorded.v1": _review_recorded,
    "capaflow.review_decision.made.v1": _decision_made,
    "capaflow.lesson.published.v1": _lesson,
    "capaflow.supplier.registered.v1": _supplier_message("registered"),
    "capaflow.supplier.updated.v1": _supplier_message("updated"),
    **{f"capaflow.scar.{event}.v1": _scar_message(event) for event in (
        "sent", "responded", "evidence_attached", "evidence_removed", "accepted", "rejected",
        "revoked", "due_soon", "overdue")},
}
