"""SCARs end to end in the CAPA service, on SQLite and PostgreSQL, with a real
SMTP server: the e-mail carries the link; the link opens exactly its SCAR,
dies when revoked or expired (the same 404 as an unknown one), is rate-limited;
draft -> submit -> reject -> resubmit -> accept; the token is in no event, no
audit entry and no column; bad input is a clear 4xx."""

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from services.capa.api.deps import clock
from services.capa.supplier_models import Scar, SupplierNonconformity
from shared.db import utcnow
from shared.events.base import NONCONFORMITY_TOPIC, Severity
from shared.events.envelope import new_event, to_record
from shared.events.nonconformity import NonconformityReported, NonconformityUpdated
from tests import evidence_samples as samples
from tests.conftest import DatabaseFactory, eventually
from tests.integration.capa.scar_harness import (
    MailBox,
    ScarDesk,
    complete_response,
    desk,
    mailbox,
    scar_desk,
)

__all__ = ["desk", "mailbox"]  # the fixtures, imported so pytest finds them here



async def test_register_roles_codes_and_search(desk: ScarDesk) -> None:
    made = await desk.supplier(code=" ACME_Seals ")
    assert made["code"] == "acme-seals"
    for role in ("engineer", "verifier", "reporter"):
        refused = await desk.client.post("/v1/suppliers", json={
            "code": "other", "name": "Other", "criticality": "low"}, headers=desk.as_(role))
        assert refused.status_code == 403, role
    again = await desk.client.post("/v1/suppliers", json={
        "code": "Acme.Seals", "name": "Twin", "criticality": "low"}, headers=desk.as_("manager"))
    assert again.status_code == 409 and again.json()["title"] == "Supplier code taken"
    for code in ("a", "-", "acme/seals", "acme\u0455eals", "x" * 33):
        bad = await desk.client.post("/v1/suppliers", json={
            "code": code, "name": "Bad", "criticality": "low"}, headers=desk.as_("manager"))
        assert bad.status_code == 422, code
    found = await desk.client.get("/v1/suppliers", params={"q": "SEALS gmbh"},
                                  headers=desk.as_("reporter"))
    assert [s["code"] for s in found.json()["items"]] == ["acme-seals"]
    one = await desk.client.get("/v1/suppliers/ACME-seals", headers=desk.as_("reporter"))
    assert one.status_code == 200
    stale = await desk.client.patch("/v1/suppliers/acme-seals", json={"criticality": "low"},
                                    headers=desk.as_("manager", **{"If-Match": '"9"'}))
    assert stale.status_code == 412
    fresh = desk.as_("manager", **{"If-Match": one.headers["etag"]})
    edited = await desk.client.patch("/v1/suppliers/acme-seals", json={"criticality": "low"},
                                     headers=fresh)
    assert edited.status_code == 200 and edited.json()["criticality"] == "low"
    assert [e["changed"] for e in await desk.events("capaflow.supplier.updated.v1")] == [
        ["criticality"]]
    assert len(await desk.events("capaflow.supplier.registered.v1")) == 1


async def test_a_capa_names_a_registered_supplier(desk: ScarDesk) -> None:
    capa = await desk.open()
    unknown = await desk.client.patch(f"/v1/capas/{capa['id']}", json={"supplier_code": "nobody"},
                                      headers=desk.as_("engineer", **{"If-Match": '"1"'}))
    assert unknown.status_code == 409 and unknown.json()["title"] == "Unknown supplier"
    await desk.supplier()
    named = await desk.client.patch(f"/v1/capas/{capa['id']}",
                                    json={"supplier_code": "ACME seals"},
                                    headers=desk.as_("engineer", **{"If-Match": '"1"'}))
    assert named.status_code == 200, named.text
    assert named.json()["supplier_code"] == "acme-seals"


@pytest.mark.requirement("iso9001-10.2.1b", "iso9001-10.2.1c")
async def test_draft_submit_reject_resubmit_accept(desk: ScarDesk) -> None:
    await desk.supplier()
    capa = await desk.open()
    scar, token = await desk.sent_scar(capa["id"])
    assert scar["status"] == "sent" and scar["number"].startswith("SCAR-")
    message = desk.box.messages[-1]
    assert message["To"] == "jana@acme.example" and scar["number"] in message["Subject"]

    opened = await desk.client.get("/v1/supplier-response", headers=desk.link(token))
    assert opened.status_code == 200 and opened.json()["editable"] is True
    # Deciding before any response is a move the SCAR does not allow: a 409 naming the
    # moves it does (the stored status is plain text, not the enum).
    early_decision = await desk.client.post(f"/v1/scars/{scar['id']}/decision",
                                            json={"decision": "accept"},
                                            headers=desk.as_("engineer"))
    assert early_decision.status_code == 409, early_decision.text
    assert early_decision.json()["status_now"] == "sent"
    assert "Seal leak" not in opened.text  # the CAPA's own title is not the supplier's

    partial = {"containment": "Lot 4711 quarantined"}
    saved = await desk.client.put("/v1/supplier-response", json=partial,
                                  headers=desk.link(token))
    assert saved.status_code == 200 and saved.json()["draft_saved_at"]
    early = await desk.client.post("/v1/supplier-response/submission", headers=desk.link(token))
    assert early.status_code == 422
    assert {e["field"] for e in early.json()["errors"]} == {"root_cause", "whys",
                                                            "corrective_actions"}
    # Engineers do not see a draft.
    seen = await desk.client.get(f"/v1/scars/{scar['id']}", headers=desk.as_("reporter"))
    assert seen.json()["response"] is None

    pdf = samples.pdf()
    upload = await desk.client.post("/v1/supplier-response/evidence",
                                    files={"file": ("8D report.pdf", pdf, "application/pdf")},
                                    headers=desk.link(token))
    assert upload.status_code == 201, upload.text
    assert (await desk.client.put("/v1/supplier-response", json=complete_response(),
                                  headers=desk.link(token))).status_code == 200
    submitted = await desk.client.post("/v1/supplier-response/submission",
                                       headers=desk.link(token))
    assert submitted.status_code == 200 and submitted.json()["status"] == "responded"

    seen = (await desk.client.get(f"/v1/scars/{scar['id']}", headers=desk.as_("reporter"))).json()
    assert seen["response"]["root_cause"].startswith("The drawing review")
    [file] = seen["evidence"]
    download = await desk.client.get(file["download"], headers=desk.as_("reporter"))
    assert download.status_code == 200 and download.content == pdf

    no_reason = await desk.client.post(f"/v1/scars/{scar['id']}/decision",
                                       json={"decision": "reject"}, headers=desk.as_("engineer"))
    assert no_reason.status_code == 422
    reporter = await desk.client.post(f"/v1/scars/{scar['id']}/decision",
                                      json={"decision": "accept"}, headers=desk.as_("reporter"))
    assert reporter.status_code == 403
    rejected = await desk.client.post(
        f"/v1/scars/{scar['id']}/decision",
        json={"decision": "reject", "reason": "Containment does not cover stock in transit"},
        headers=desk.as_("engineer"))
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"

    back = (await desk.client.get("/v1/supplier-response", headers=desk.link(token))).json()
    assert back["status"] == "rejected" and back["editable"] is True
    assert back["decision_reason"] == "Containment does not cover stock in transit"
    better = complete_response(containment="Lot 4711 quarantined, incl. 300 parts in transit")
    assert (await desk.client.put("/v1/supplier-response", json=better,
                                  headers=desk.link(token))).status_code == 200
    again = await desk.client.post("/v1/supplier-response/submission", headers=desk.link(token))
    assert again.status_code == 200 and again.json()["submissions"] == 2
    accepted = await desk.client.post(f"/v1/scars/{scar['id']}/decision",
                                      json={"decision": "accept"}, headers=desk.as_("engineer"))
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"

    final = await desk.client.get("/v1/supplier-response", headers=desk.link(token))
    assert final.status_code == 200 and final.json()["editable"] is False
    late = await desk.client.put("/v1/supplier-response", json=better, headers=desk.link(token))
    assert late.status_code == 409

    kinds = [t.split(".")[2] for t in ("capaflow.scar.sent.v1", "capaflow.scar.responded.v1",
                                       "capaflow.scar.rejected.v1", "capaflow.scar.accepted.v1")]
    for kind in kinds:
        assert await desk.events(f"capaflow.scar.{kind}.v1"), kind
    responded = await desk.events("capaflow.scar.responded.v1")
    assert [r["submission"] for r in responded] == [1, 2]
    assert responded[0]["evidence_files"] == 1 and responded[0]["on_time"] is True
    actions = [e.action for e in await desk.audit(capa["id"])]
    for action in ("scar_sent", "scar_evidence_attached", "scar_responded", "scar_rejected",
                   "scar_accepted"):
        assert action in actions, action
    await _token_nowhere(desk, token)


async def _token_nowhere(desk: ScarDesk, token: str) -> None:
    """The token is in no event, no audit entry and no column of the SCAR."""
    assert all(token not in value for value in await desk.outbox_values())
    async with desk.app.state.runtime.sessions() as session:
        rows = (await session.exec(select(Scar))).all()
        from services.capa.models import AuditEntry
        entries = (await session.exec(select(AuditEntry))).all()
    for row in rows:
        assert token not in row.model_dump_json()
    for entry in entries:
        assert token not in entry.model_dump_json()


async def test_a_link_opens_its_own_scar_only(desk: ScarDesk) -> None:
    await desk.supplier()
    first, token_a = await desk.sent_scar()
    second, token_b = await desk.sent_scar()
    upload = await desk.client.post("/v1/supplier-response/evidence",
                                    files={"file": ("b.pdf", samples.pdf(), "application/pdf")},
                                    headers=desk.link(token_b))
    assert upload.status_code == 201
    read_a = (await desk.client.get("/v1/supplier-response", headers=desk.link(token_a))).json()
    assert read_a["number"] == first["number"] and read_a["evidence"] == []
    # B's file through A's link: not found, like any id A does not own.
    crossed = await desk.client.get(upload.json()["download"], headers=desk.link(token_a))
    assert crossed.status_code == 404
    assert (await desk.client.get(upload.json()["download"],
                                  headers=desk.link(token_b))).status_code == 200
    # A's writes land on A.
    await desk.client.put("/v1/supplier-response", json={"containment": "A only"},
                          headers=desk.link(token_a))
    read_b = (await desk.client.get("/v1/supplier-response", headers=desk.link(token_b))).json()
    assert read_b["number"] == second["number"] and read_b["response"]["containment"] is None
    # An API key is not a link, a link is not an API key.
    assert (await desk.client.get("/v1/supplier-response",
                                  headers=desk.as_("manager"))).status_code == 404
    assert (await desk.client.get(f"/v1/scars/{first['id']}",
                                  headers={"Authorization": f"Bearer {token_a}"})
            ).status_code == 401


async def test_revoked_expired_and_unknown_links_are_one_404(desk: ScarDesk) -> None:
    await desk.supplier()
    revoked, token_r = await desk.sent_scar()
    expired, token_e = await desk.sent_scar()
    resent, token_old = await desk.sent_scar()
    gone = await desk.client.post(f"/v1/scars/{revoked['id']}/revocation",
                                  json={"reason": "Sent to the wrong supplier"},
                                  headers=desk.as_("engineer"))
    assert gone.status_code == 200 and gone.json()["status"] == "revoked"
    again = await desk.client.post(f"/v1/scars/{resent['id']}/link", headers=desk.as_("engineer"))
    assert again.status_code == 200 and again.json()["email_status"] == "sent"
    token_new = desk.box.token_in(desk.box.messages[-1])
    assert token_new != token_old
    # A new message, not a copy of the first: mail stores drop a known Message-ID.
    ids = [m["Message-ID"] for m in desk.box.messages
           if resent["number"] in m["Subject"]]
    assert len(ids) == 2 and len(set(ids)) == 2, ids
    unknown = "A" * 43
    answers = [await desk.client.get("/v1/supplier-response", headers=desk.link(t))
               for t in (token_r, token_old, unknown, "short", "")]
    assert {a.status_code for a in answers} == {404}
    assert len({a.json()["detail"] for a in answers}) == 1
    assert (await desk.client.get("/v1/supplier-response",
                                  headers=desk.link(token_new))).status_code == 200

    later = datetime.fromisoformat(expired["link_expires_at"]) + timedelta(seconds=1)
    desk.app.dependency_overrides[clock] = lambda: later
    try:
        late = await desk.client.get("/v1/supplier-response", headers=desk.link(token_e))
        assert late.status_code == 404 and late.json()["detail"] == answers[0].json()["detail"]
    finally:
        desk.app.dependency_overrides.pop(clock)
    assert (await desk.events("capaflow.scar.revoked.v1"))[0]["scar_id"] == revoked["id"]
    assert (await desk.events("capaflow.scar.sent.v1"))[-1]["resent"] is True
    # E-mails name the supplier as people know it and the CAPA by its title.
    sent = (await desk.events("capaflow.scar.sent.v1"))[-1]
    assert sent["supplier_name"] and sent["title"]
    assert sent["supplier_name"] != sent["supplier_code"]
    for token in (token_r, token_e, token_old, token_new):
        await _token_nowhere(desk, token)


@pytest.mark.parametrize("field, value", [
    ("due_date", "yesterday"), ("due_date", "9999-12-31"), ("due_date", "2020-01-01"),
    ("request", "x" * 5001), ("request", "\u200b\u200b"), ("request", "a\u0000b"),
    ("contact_email", "someone@else.example"), ("contact_email", "not an address"),
    ("due_date", "in a year and a week"),
])
async def test_bad_scar_input_is_a_clear_4xx(desk: ScarDesk, field: str, value: str) -> None:
    await desk.supplier()
    capa = await desk.open()
    today = utcnow().date()
    value = {"yesterday": (today - timedelta(days=1)).isoformat(),
             "in a year and a week": (today + timedelta(days=373)).isoformat()}.get(value, value)
    sent = await desk.send(capa["id"], **{field: value})
    # Not one of the register's contacts is the register's state: 409, like an
    # unknown supplier. A date outside today's window has its own problem type.
    assert sent.status_code == (409 if value == "someone@else.example" else 422), sent.text
    assert field in sent.text
    if field == "due_date" and not value.startswith("9999"):
        assert sent.json()["type"] == "urn:capaflow:problem:date-outside-window"
    assert desk.box.messages == []


async def test_unknown_supplier_and_closed_capa(desk: ScarDesk) -> None:
    capa = await desk.open()
    unknown = await desk.send(capa["id"])
    assert unknown.status_code == 409 and unknown.json()["title"] == "Unknown supplier"
    assert (await desk.send("00000000-0000-4000-8000-000000000000")).status_code == 404


@pytest.mark.parametrize("response, field", [
    ({"containment": "<script>alert(1)</script>"}, "containment"),
    ({"root_cause": "see javascript:alert(1)"}, "root_cause"),
    ({"whys": [{"why": "w", "because": '<a href="x">click</a>'}]}, "whys.0.because"),
    ({"containment": "x" * 5001}, "containment"),
    ({"corrective_actions": [{"description": "Fix", "due_date": "9999-01-01"}]},
     "corrective_actions"),
    ({"corrective_actions": [{"description": "Fix", "due_date": "1990-01-01"}]},
     "corrective_actions.0.due_date"),
    ({"whys": [{"why": "w", "because": "b"}] * 11}, "whys"),
    ({"unknown": "field"}, "unknown"),
])
async def test_bad_response_input_is_a_clear_422(desk: ScarDesk, response: dict[str, Any],
                                                 field: str) -> None:
    await desk.supplier()
    _, token = await desk.sent_scar()
    saved = await desk.client.put("/v1/supplier-response", json=response,
                                  headers=desk.link(token))
    assert saved.status_code == 422, saved.text
    assert field in saved.text


async def test_the_link_is_rate_limited(new_sqlite_database: DatabaseFactory,
                                        api_keys: tuple[Path, dict[str, str]],
                                        mailbox: tuple[MailBox, int]) -> None:
    keys_path, keys = api_keys
    box, port = mailbox
    async with scar_desk(await new_sqlite_database(), await new_sqlite_database(), keys_path,
                         keys, port, box, scar_link_requests_per_minute=5,
                         scar_unknown_link_requests_per_minute=3) as desk:
        await desk.supplier()
        _, token = await desk.sent_scar()
        statuses = [(await desk.client.get("/v1/supplier-response",
                                           headers=desk.link(token))).status_code
                    for _ in range(6)]
        assert statuses == [200] * 5 + [429]
        guesses = [await desk.client.get("/v1/supplier-response",
                                         headers=desk.link(f"{i:043d}")) for i in range(4)]
        assert [g.status_code for g in guesses] == [404, 404, 404, 429]
        assert int(guesses[-1].headers["retry-after"]) >= 1
        # Dead links from the same address (all suppliers behind the web UI share
        # one) do not lock out a supplier whose link opens a SCAR.
        _, other = await desk.sent_scar()
        assert (await desk.client.get("/v1/supplier-response",
                                      headers=desk.link(other))).status_code == 200
        assert (await desk.client.get("/v1/supplier-response", headers=desk.link(
            f"{9:043d}"))).status_code == 429


async def test_reminder_and_overdue(desk: ScarDesk) -> None:
    from services.capa.service.scar_schedule import detect_overdue_scars, remind_scars

    await desk.supplier()
    scar, _ = await desk.sent_scar()
    due = datetime.fromisoformat(scar["due_date"]).replace(tzinfo=UTC)
    sessions = desk.app.state.runtime.sessions
    assert await remind_scars(sessions, now=due - timedelta(days=10), days=3) == 0
    assert await remind_scars(sessions, now=due - timedelta(days=2), days=3) == 1
    assert await remind_scars(sessions, now=due - timedelta(days=1), days=3) == 0
    assert await detect_overdue_scars(sessions, now=due + timedelta(days=1)) == 1
    assert await detect_overdue_scars(sessions, now=due + timedelta(days=2)) == 0
    [overdue] = await desk.events("capaflow.scar.overdue.v1")
    assert overdue["scar_id"] == scar["id"] and overdue["status"] == "sent"
    [soon] = await desk.events("capaflow.scar.due_soon.v1")
    assert soon["days_left"] == 2


async def test_scorecards_count_ncs_scars_and_open_items(desk: ScarDesk) -> None:
    await desk.supplier()
    await desk.supplier(code="gasket-works", name="Gasket Works", contacts=[])
    now = utcnow()
    reported = [NonconformityReported(
        nonconformity_id=uuid.uuid4(), number=f"NC-2026-{i:05d}", title="Gaskets harden",
        severity=Severity.major, source="supplier", supplier_code=code,
        reported_at=now - timedelta(days=days))
        for i, (code, days) in enumerate([("acme-seals", 20), ("acme-seals", 10),
                                          ("gasket-works", 5), ("ACME seals", 200)])]
    moved = NonconformityUpdated(**{**reported[2].model_dump(), "supplier_code": None},
                                 changed_fields=["supplier_code"], updated_by="e",
                                 updated_at=now)
    bus = desk.app.state.runtime.bus
    await bus.publish([to_record(new_event(service="nonconformity", data=e), NONCONFORMITY_TOPIC)
                       for e in (*reported, moved)])

    async def attributed() -> bool:
        async with desk.app.state.runtime.sessions() as session:
            rows = (await session.exec(select(SupplierNonconformity))).all()
        return {r.supplier_code for r in rows} == {"acme-seals"} and len(rows) == 3

    await eventually(attributed, timeout=15, message="NCs attributed from the events")
    _, token = await desk.sent_scar()
    assert (await desk.client.put("/v1/supplier-response", json=complete_response(),
                                  headers=desk.link(token))).status_code == 200
    assert (await desk.client.post("/v1/supplier-response/submission",
                                   headers=desk.link(token))).status_code == 200
    await desk.sent_scar()  # still open
    cards = await desk.client.get("/v1/suppliers/scorecards", headers=desk.as_("reporter"))
    assert cards.status_code == 200, cards.text
    by_code = {c["supplier_code"]: c for c in cards.json()["items"]}
    acme = by_code["acme-seals"]
    assert acme["rank"] == 1 and acme["name"] == "Acme Seals GmbH"
    assert acme["nonconformities"] == 2 and acme["repeat_rate"] == 0.5
    assert acme["scars_sent"] == 2 and acme["open_items"] == 2
    assert acme["median_response_days"] == 0.0 and acme["on_time_closure"] is None
    assert by_code["gasket-works"]["nonconformities"] == 0
    assert by_code["gasket-works"]["median_response_days"] is None
    inverted = await desk.client.get("/v1/suppliers/scorecards", headers=desk.as_("reporter"),
                                     params={"since": "2026-12-01T00:00:00Z",
                                             "until": "2026-11-01T00:00:00Z"})
    # A backwards period is refused, as the review figures refuse it (shared.periods).
    assert inverted.status_code == 422, inverted.text
    assert inverted.json()["type"] == "urn:capaflow:problem:period-not-forward"
    for bad in ({"since": "1899-12-31T00:00:00Z"}, {"until": "9999-01-01T00:00:00Z"},
                {"since": "yesterday"}):
        refused = await desk.client.get("/v1/suppliers/scorecards", params=bad,
                                        headers=desk.as_("reporter"))
        assert refused.status_code == 422, bad
    taken = await desk.client.post("/v1/suppliers", json={
        "code": "Scorecards", "name": "x", "criticality": "low"}, headers=desk.as_("manager"))
    assert taken.status_code == 409


async def test_a_cancelled_capa_takes_its_open_scars_with_it(desk: ScarDesk) -> None:
    await desk.supplier()
    capa = await desk.open()
    scar, token = await desk.sent_scar(capa["id"])
    assert (await desk.client.get("/v1/supplier-response",
                                  headers=desk.link(token))).status_code == 200
    cancelled = await desk.move(capa["id"], "cancelled", role="manager",
                                reason="Raised twice; the other CAPA covers it")
    assert cancelled.status_code == 200, cancelled.text
    # The link is dead, the SCAR says why, and its revocation is an event and an entry.
    assert (await desk.client.get("/v1/supplier-response",
                                  headers=desk.link(token))).status_code == 404
    seen = (await desk.client.get(f"/v1/scars/{scar['id']}",
                                  headers=desk.as_("engineer"))).json()
    assert (seen["status"], seen["decision_reason"]) == ("revoked", "The CAPA was cancelled.")
    assert [e["scar_id"] for e in await desk.events("capaflow.scar.revoked.v1")] == [scar["id"]]
    assert "scar_revoked" in [e.action for e in await desk.audit(capa["id"])]


async def test_a_suppliers_records_and_the_unknown_supplier_message(desk: ScarDesk) -> None:
    """The supplier page's lists: its NCs (from the events), CAPAs and SCARs, also for
    a code the register lacks; the refusal of an unknown code in plain words."""
    capa = await desk.open()
    unknown = await desk.client.patch(f"/v1/capas/{capa['id']}", json={"supplier_code": "nobody"},
                                      headers=desk.as_("engineer", **{"If-Match": '"1"'}))
    assert unknown.status_code == 409
    assert "POST /v1" not in unknown.json()["detail"]
    assert "is in the supplier register; choose a registered" in unknown.json()["detail"]
    await desk.supplier()
    named = await desk.client.patch(f"/v1/capas/{capa['id']}", json={"supplier_code": "acme-seals"},
                                    headers=desk.as_("engineer", **{"If-Match": '"1"'}))
    assert named.status_code == 200, named.text
    scar, _ = await desk.sent_scar(capa["id"])
    reported = [NonconformityReported(
        nonconformity_id=uuid.uuid4(), number=f"NC-2026-0009{i}", title="Gaskets harden",
        severity=Severity.major, source="supplier", supplier_code=code,
        reported_at=utcnow() - timedelta(days=i))
        for i, code in enumerate(["acme-seals", "Acme Seal"])]
    await desk.app.state.runtime.bus.publish(
        [to_record(new_event(service="nonconformity", data=e), NONCONFORMITY_TOPIC)
         for e in reported])

    async def attributed() -> bool:
        async with desk.app.state.runtime.sessions() as session:
            return len((await session.exec(select(SupplierNonconformity))).all()) == 2

    await eventually(attributed, timeout=15, message="NCs attributed from the events")
    got = await desk.client.get("/v1/suppliers/ACME-Seals/records",
                                headers=desk.as_("reporter"))
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["code"] == "acme-seals" and body["supplier"]["name"] == "Acme Seals GmbH"
    assert [n["number"] for n in body["nonconformities"]] == ["NC-2026-00090"]
    assert [c["id"] for c in body["capas"]] == [capa["id"]]
    assert [s["number"] for s in body["scars"]] == [scar["number"]]
    phantom = (await desk.client.get("/v1/suppliers/acme-seal/records",
                                     headers=desk.as_("reporter"))).json()
    assert phantom["supplier"] is None
    assert [n["number"] for n in phantom["nonconformities"]] == ["NC-2026-00091"]
    assert (await desk.client.get("/v1/suppliers/x/records",
                                  headers=desk.as_("reporter"))).status_code == 404
    assert (await desk.client.get("/v1/suppliers/acme-seals/records")).status_code == 401
