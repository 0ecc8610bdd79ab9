"""The SCAR loop reaches the supplier, on SQLite and PostgreSQL with a real SMTP
server: the contact is e-mailed when the response is returned (with the reason
and the new due date), when the SCAR is withdrawn (by an engineer or with its
CAPA), and reminded before and after the due date, each once, also when two
replicas' jobs run at the same time; a returned response goes back only
revised; a SCAR goes to the CAPA's supplier."""

import asyncio
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

from services.capa.service.scar_notices import mail_withdrawals
from services.capa.service.scar_schedule import detect_overdue_scars, remind_scars
from shared.db import utcnow
from tests import evidence_samples as samples
from tests.integration.capa.scar_harness import (
    LINK,
    ScarDesk,
    complete_response,
    desk,
    mailbox,
)

__all__ = ["desk", "mailbox"]  # the fixtures, imported so pytest finds them here



def _text(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def _since(desk: ScarDesk, count: int) -> list[EmailMessage]:
    return desk.box.messages[count:]


async def _respond(desk: ScarDesk, token: str, **overrides: object) -> int:
    saved = await desk.client.put("/v1/supplier-response", json=complete_response(**overrides),
                                  headers=desk.link(token))
    assert saved.status_code == 200, saved.text
    return (await desk.client.post("/v1/supplier-response/submission",
                                   headers=desk.link(token))).status_code


async def test_a_returned_response_is_mailed_and_comes_back_only_revised(
        desk: ScarDesk) -> None:
    await desk.supplier()
    scar, token = await desk.sent_scar()
    assert await _respond(desk, token) == 200
    new_due = (utcnow().date() + timedelta(days=21)).isoformat()
    before = len(desk.box.messages)
    rejected = await desk.client.post(f"/v1/scars/{scar['id']}/decision", json={
        "decision": "reject", "reason": "Containment misses the stock in transit",
        "due_date": new_due}, headers=desk.as_("engineer"))
    assert rejected.status_code == 200, rejected.text
    [mail] = _since(desk, before)
    text = _text(mail)
    assert mail["To"] == "jana@acme.example" and scar["number"] in mail["Subject"]
    assert "Containment misses the stock in transit" in text and new_due in text
    expiry = datetime.fromisoformat(rejected.json()["link_expires_at"])
    assert f"valid until {expiry:%Y-%m-%d %H:%M} UTC" in text
    # No new token: the supplier answers through the first e-mail's link.
    assert LINK.search(text) is None and token not in mail.as_string()

    # The returned response, unchanged, is refused; the draft is kept.
    unchanged = await desk.client.post("/v1/supplier-response/submission",
                                       headers=desk.link(token))
    assert unchanged.status_code == 409, unchanged.text
    assert "revise the response before submitting it again" in unchanged.json()["detail"].lower()
    # Saved again with the same words is still unchanged.
    assert await _respond(desk, token) == 409
    # A new evidence file is a revision.
    upload = await desk.client.post("/v1/supplier-response/evidence", files={
        "file": ("stock in transit.pdf", samples.pdf(), "application/pdf")},
        headers=desk.link(token))
    assert upload.status_code == 201, upload.text
    again = await desk.client.post("/v1/supplier-response/submission",
                                   headers=desk.link(token))
    assert again.status_code == 200 and again.json()["submissions"] == 2
    # So is changed text, after a second return.
    assert (await desk.client.post(f"/v1/scars/{scar['id']}/decision", json={
        "decision": "reject", "reason": "Still no date for the sorting"},
        headers=desk.as_("engineer"))).status_code == 200
    assert "Still no date for the sorting" in _text(desk.box.messages[-1])
    assert await _respond(desk, token, root_cause="The review checklist lacks temperature "
                                                  "and its owner") == 200
    # Accepting e-mails nothing.
    before = len(desk.box.messages)
    assert (await desk.client.post(f"/v1/scars/{scar['id']}/decision",
                                   json={"decision": "accept"},
                                   headers=desk.as_("engineer"))).status_code == 200
    assert _since(desk, before) == []


async def test_a_withdrawal_is_mailed_once(desk: ScarDesk) -> None:
    await desk.supplier()
    scar, _ = await desk.sent_scar()
    before = len(desk.box.messages)
    revoked = await desk.client.post(f"/v1/scars/{scar['id']}/revocation",
                                     json={"reason": "Raised against the wrong lot"},
                                     headers=desk.as_("engineer"))
    assert revoked.status_code == 200, revoked.text
    [mail] = _since(desk, before)
    assert "withdrawn" in mail["Subject"] and "Raised against the wrong lot" in _text(mail)
    assert "need not answer" in _text(mail)
    # The job finds nothing left to tell.
    smtp = desk.settings.smtp()
    assert await mail_withdrawals(desk.app.state.runtime.sessions, smtp, now=utcnow()) == 0

    # Withdrawn with its CAPA: the overdue job tells the contact, once, also when two
    # replicas run it at the same time.
    capa = await desk.open()
    other, _ = await desk.sent_scar(capa["id"])
    assert (await desk.move(capa["id"], "cancelled", role="manager",
                            reason="Raised twice")).status_code == 200
    before = len(desk.box.messages)
    sessions = desk.app.state.runtime.sessions
    await asyncio.gather(*(detect_overdue_scars(sessions, now=utcnow(), smtp=smtp)
                           for _ in range(2)))
    [mail] = _since(desk, before)
    assert other["number"] in mail["Subject"] and "The CAPA was cancelled." in _text(mail)
    await detect_overdue_scars(sessions, now=utcnow(), smtp=smtp)
    assert len(desk.box.messages) == before + 1


async def test_reminders_reach_the_supplier_once(desk: ScarDesk) -> None:
    await desk.supplier()
    scar, _ = await desk.sent_scar()
    due = datetime.fromisoformat(scar["due_date"]).replace(tzinfo=UTC)
    sessions, smtp = desk.app.state.runtime.sessions, desk.settings.smtp()
    before = len(desk.box.messages)
    soon = due - timedelta(days=2)
    sent = await asyncio.gather(*(remind_scars(sessions, now=soon, days=3, smtp=smtp)
                                  for _ in range(2)))
    assert sorted(sent) == [0, 1]
    [reminder] = _since(desk, before)
    assert reminder["Subject"].startswith(f"Reminder: {scar['number']}")
    assert scar["due_date"] in _text(reminder) and "valid until" in _text(reminder)
    assert await remind_scars(sessions, now=soon + timedelta(days=1), days=3, smtp=smtp) == 0

    late = due + timedelta(days=1)
    found = await asyncio.gather(*(detect_overdue_scars(sessions, now=late, smtp=smtp)
                                   for _ in range(2)))
    assert sorted(found) == [0, 1]
    [overdue] = _since(desk, before + 1)
    assert "overdue" in overdue["Subject"] and scar["due_date"] in overdue["Subject"]
    assert await detect_overdue_scars(sessions, now=late + timedelta(days=1), smtp=smtp) == 0
    assert len(desk.box.messages) == before + 2


async def test_a_scar_goes_to_the_capas_supplier(desk: ScarDesk) -> None:
    await desk.supplier()
    await desk.supplier(code="euro-pcb", name="Euro PCB Ltd", contacts=[
        {"name": "Tom Berg", "email": "tom@europcb.example"}])
    capa = await desk.open()
    named = await desk.client.patch(f"/v1/capas/{capa['id']}", json={"supplier_code": "acme-seals"},
                                    headers=desk.as_("engineer", **{"If-Match": '"1"'}))
    assert named.status_code == 200, named.text
    other = await desk.send(capa["id"], supplier_code="euro-pcb",
                            contact_email="tom@europcb.example")
    assert other.status_code == 409, other.text
    assert other.json()["title"] == "Not the CAPA's supplier"
    assert "acme-seals" in other.json()["detail"]
    assert (await desk.send(capa["id"])).status_code == 201

    # A CAPA naming no supplier may send to any; the CAPA is left as it was.
    loose = await desk.open()
    sent = await desk.send(loose["id"], supplier_code="euro-pcb",
                           contact_email="tom@europcb.example")
    assert sent.status_code == 201, sent.text
    after = (await desk.client.get(f"/v1/capas/{loose['id']}", headers=desk.as_("reporter")))
    assert after.json()["supplier_code"] is None
