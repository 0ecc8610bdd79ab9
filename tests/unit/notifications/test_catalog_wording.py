"""Every event type of the catalog reads in plain words in an e-mail.

Each type is rendered through the e-mail formatter twice: with every optional
field filled (enum-like fields holding snake_case values such as
``not_effective`` or ``at_most``) and with the optional fields left out (an
older producer). The subject must hold no "_" and no raw value; no line of the
text part may hold a snake_case word or show a raw vocabulary value after its
label ("Severity: critical").
"""

import re
import typing
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

import pytest
from pydantic import BaseModel

import shared.vocabulary as vocabulary
from services.notifications.channels import email
from services.notifications.service.messages import Links, describe
from shared.events.catalog import CATALOG

# Values a producer really sends for fields that hold a machine value.
RAW: dict[str, Any] = {
    "from_status": "action_planned", "to_status": "verifying", "status": "action_planned",
    "cause_category": "materials_supplier", "result": "not_effective",
    "effectiveness_result": "not_effective", "kind": "correction", "decision": "duplicate",
    "direction": "at_most", "metric": "median_days_to_close", "criticality": "critical",
    "source": "management_review", "record_type": "effectiveness_verification",
    "channel": "webhook", "source_event_type": "capaflow.capa.action_due_soon.v1",
    "changed": ["contacts", "criticality"], "changed_fields": ["affected_item"],
    "unit": "per_week", "meaning": "approval", "severity": "critical"}
FREE_TEXT = "Seal leaks at the press"
RAW_VALUES = {str(v) for v in RAW.values() if isinstance(v, str)} | {
    member.value for enum in vars(vocabulary).values()
    if isinstance(enum, type) and issubclass(enum, StrEnum) and enum is not StrEnum
    for member in enum}
SNAKE = re.compile(r"\b[a-z]+_[a-z0-9_]+\b")
URL = re.compile(r"<?https?://\S+>?")


def _value(name: str, annotation: Any) -> Any:
    if name in RAW:
        return RAW[name]
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, type(None)) or (
            args and typing.get_origin(annotation) is not list):
        return _value(name, args[0])
    if typing.get_origin(annotation) is list:
        return [_value(name, args[0])] if args and args[0] is not UUID else [UUID(int=7)]
    if isinstance(annotation, type):
        if issubclass(annotation, bool):
            return True
        if issubclass(annotation, StrEnum):
            return next(iter(annotation)).value
        if issubclass(annotation, UUID):
            return UUID(int=1)
        if issubclass(annotation, datetime):
            return "2026-12-02T10:00:00Z"
        if issubclass(annotation, date):
            return "2026-12-21"
        if issubclass(annotation, int):
            return 3
        if issubclass(annotation, float):
            return 0.25
        if issubclass(annotation, BaseModel):
            return None
    return FREE_TEXT


def _data(model: type[BaseModel], *, optional: bool) -> dict[str, Any]:
    data = {name: _value(name, field.annotation)
            for name, field in model.model_fields.items()
            if optional or field.is_required()}
    if "reason" in data and model.__name__ == "NonconformityEscalated":
        data["reason"] = "audit_finding"
    return {k: v for k, v in model.model_validate(data).model_dump(mode="json").items()
            if v is not None}


def _rendered(event_type: str, data: dict[str, Any], links: Links) -> tuple[str, str]:
    message = describe({"type": event_type, "id": "e1", "data": data}, links)
    mail = email.render(sender="capaflow@example.com", to="q@example.com",
                        subject=message.title, context=message.context(), message_id="m1")
    body = mail.get_body(("plain",))
    assert body is not None
    return str(mail["Subject"]), str(body.get_content())


@pytest.mark.parametrize("optional", [True, False], ids=["all fields", "older event"])
@pytest.mark.parametrize("ui", [None, "http://ui.example"], ids=["api links", "ui links"])
@pytest.mark.parametrize("event_type", sorted(CATALOG))
def test_every_event_reads_in_plain_words(event_type: str, optional: bool,
                                          ui: str | None) -> None:
    data = _data(CATALOG[event_type], optional=optional)
    subject, text = _rendered(event_type, data, Links("http://capa", "http://nc", ui))
    assert "_" not in subject, subject
    assert not any(re.search(rf"(^|[\s:]){re.escape(v)}($|[\s,.])", subject)
                   for v in RAW_VALUES if "_" in v), subject
    for line in URL.sub("", text).splitlines():
        assert not SNAKE.search(line), (event_type, line)
        value = line.partition(": ")[2]
        assert value.strip() not in RAW_VALUES, (event_type, line)


def test_the_review_e_mails_say_what_was_decided() -> None:
    links = Links("http://capa", "http://nc", "http://ui")
    recorded = _data(CATALOG["capaflow.management_review.recorded.v1"], optional=True) | {
        "held_on": "2026-12-02", "decisions": 3, "attendees": ["ann", "bo"],
        "decision_texts": ["Replace the seal supplier", "Audit the press", "Train"]}
    subject, text = _rendered("capaflow.management_review.recorded.v1", recorded, links)
    assert subject == "Management review held on 2026-12-02: 3 decisions"
    assert "Attendees: ann, bo" in text and "- Audit the press" in text
    made = _data(CATALOG["capaflow.review_decision.made.v1"], optional=True) | {
        "text": "Replace the seal supplier", "held_on": "2026-12-02",
        "capa_number": "CAPA-2026-00012", "capa_title": "Seal supplier", "action_id": None}
    subject, text = _rendered("capaflow.review_decision.made.v1", made, links)
    assert subject == "Management review decision: Replace the seal supplier"
    assert "It opened CAPA-2026-00012 — Seal supplier." in text
    assert f"http://ui/capas/{made['capa_id']}" in text


def test_a_scar_and_an_objective_name_what_a_person_needs() -> None:
    links = Links("http://capa", "http://nc", "http://ui")
    sent = _data(CATALOG["capaflow.scar.sent.v1"], optional=True) | {
        "scar_number": "SCAR-2026-0003", "supplier_name": "Acme Seals",
        "supplier_code": "acme-seals", "number": "CAPA-2026-00001", "title": "Seal leaks",
        "due_date": "2026-12-21", "resent": False}
    subject, text = _rendered("capaflow.scar.sent.v1", sent, links)
    assert subject == ("SCAR-2026-0003 sent to Acme Seals for CAPA-2026-00001 — Seal leaks, "
                       "due 2026-12-21")
    assert f"http://ui/scars/{sent['scar_id']}" in text
    off = _data(CATALOG["capaflow.objective.off_track.v1"], optional=True) | {
        "title": "Close faster", "metric_label": "Median days to close", "unit": "days",
        "current": 14, "target": 10, "direction": "at_most", "deadline": "2027-03-31",
        "projected": 12.5}
    subject, text = _rendered("capaflow.objective.off_track.v1", off, links)
    assert subject == "Quality objective off track: Close faster"
    for line in ("Metric: Median days to close", "Current value: 14 days (the latest period)",
                 "Target: at most 10 days by 2027-03-31",
                 "Projected by the deadline: 12.5 days"):
        assert line in text
    rate = off | {"unit": "ratio", "current": 0.25, "target": 0.8, "direction": "at_least",
                  "projected": None}
    assert "Target: at least 80 % by 2027-03-31" in _rendered(
        "capaflow.objective.on_track.v1", rate, links)[1]
