"""What a person reads in an e-mail or Slack message: what changed, in words."""

from email.message import EmailMessage
from uuid import uuid4

from services.notifications.channels import email
from services.notifications.channels.webhook import slack_payload
from services.notifications.service.messages import DIGEST_TYPE, Links, describe

CAPA = uuid4()
UI = Links("https://capa.example", "https://nc.example", ui_base_url="https://qms.example")
STATUS_CHANGED = {
    "type": "capaflow.capa.status_changed.v1",
    "data": {"capa_id": str(CAPA), "number": "CAPA-2026-00006", "severity": "critical",
             "owner": "dev-engineer", "from_status": "implementing",
             "to_status": "verifying", "changed_by": "dev-engineer"}}


def _text(mail: EmailMessage) -> str:
    part = mail.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def test_a_status_change_says_from_what_to_what_in_words() -> None:
    message = describe(STATUS_CHANGED, UI)
    assert message.title == "CAPA status changed: CAPA-2026-00006"
    assert message.lines[0] == "Status: Implementing → Verifying effectiveness"
    assert "Severity: Critical" in message.lines
    assert "Owner: dev-engineer" in message.lines
    body = _text(email.render(sender="c@example.com", to="ann@corp.example",
                              subject=message.title, context=message.context(),
                              message_id="m1"))
    assert "Status: Implementing → Verifying effectiveness" in body
    assert "critical" not in body and "verifying\n" not in body
    slack = slack_payload(title=message.title, lines=message.lines, link=message.link)
    assert "Implementing → Verifying effectiveness" in str(slack)


def test_the_title_is_in_the_headline_when_the_event_carries_it() -> None:
    message = describe({"type": "capaflow.capa.opened.v1", "data": {
        "capa_id": str(CAPA), "number": "CAPA-2026-00006", "title": "Seal leak on line 3",
        "severity": "major", "source": "customer"}}, UI)
    assert message.title == "CAPA opened: CAPA-2026-00006 — Seal leak on line 3"
    assert "Severity: Major" in message.lines
    assert "Source: Customer complaint" in message.lines


def test_results_decisions_and_notice_statuses_are_in_words() -> None:
    verified = describe({"type": "capaflow.capa.effectiveness_verified.v1", "data": {
        "capa_id": str(CAPA), "number": "CAPA-2026-00006", "result": "not_effective"}}, UI)
    assert "Effectiveness result: Not effective" in verified.lines
    triaged = describe({"type": "capaflow.nonconformity.triaged.v1", "data": {
        "nonconformity_id": str(uuid4()), "number": "NC-2026-00001", "decision": "accepted",
        "reason": "Confirmed"}}, UI)
    assert "Decision: Accepted" in triaged.lines
    overdue = describe({"type": "capaflow.capa.overdue.v1", "data": {
        "capa_id": str(CAPA), "number": "CAPA-2026-00006", "status": "action_planned",
        "due_date": "2026-12-01"}}, UI)
    assert "Status: Actions planned" in overdue.lines
    scar = describe({"type": "capaflow.scar.overdue.v1", "data": {
        "capa_id": str(CAPA), "number": "CAPA-2026-00006", "status": "sent",
        "due_date": "2026-12-01"}}, UI)
    assert "Status: Awaiting the supplier" in scar.lines
    # A value a newer service sends that the table does not know: words, not snake_case.
    newer = describe(STATUS_CHANGED | {"data": STATUS_CHANGED["data"] | {
        "to_status": "on_hold"}}, UI)
    assert newer.lines[0] == "Status: Implementing → On hold"


def test_a_digest_item_says_what_changed() -> None:
    message = describe({"type": DIGEST_TYPE, "data": {
        "mode": "daily", "period_start": "2026-12-06T00:00:00Z",
        "period_end": "2026-12-07T00:00:00Z", "events": [
            {"type": STATUS_CHANGED["type"], "data": STATUS_CHANGED["data"]}]}}, UI)
    assert message.sections[0]["items"][0]["text"] == (
        "CAPA status changed: CAPA-2026-00006 (Status: Implementing → Verifying effectiveness)")


def test_an_owner_notice_points_to_my_notifications_not_to_an_api_path() -> None:
    envelope = {"type": "capaflow.capa.action_overdue.v1", "data": {
        "capa_id": str(CAPA), "number": "CAPA-2026-00004", "action_owner": "ann",
        "description": "Release the spec", "due_date": "2026-12-01"}}
    with_ui = describe(envelope, UI)
    assert with_ui.hint == ["Manage your notifications: https://qms.example/my/notifications"]
    bare = describe(envelope, Links("https://capa.example", "https://nc.example"))
    assert bare.hint == []
    body = _text(email.render(sender="c@example.com", to="ann@corp.example",
                              subject=bare.title, context=bare.context(), message_id="m2"))
    assert "/v1/" not in body.split("--")[-1] and "CAPAflow notifications" in body
