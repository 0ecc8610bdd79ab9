"""The supplier pages against a fake CAPA API: the public response form (the
link's token leaves the address at once, travels as ``Authorization: SCAR``,
a dead link is one page), the register, and a SCAR's page."""

import json
import logging
import re
import uuid
from typing import Any
from urllib.parse import quote

import httpx
from fastapi.testclient import TestClient

from tests.unit.web.conftest import FakeApi, sign_in

TOKEN = "T" * 43
SCAR_ID = str(uuid.uuid4())
CAPA_ID = str(uuid.uuid4())


def scar_for_supplier(**overrides: Any) -> dict[str, Any]:
    return {"number": "SCAR-2026-0001", "supplier_code": "acme-seals",
            "supplier_name": "Acme Seals GmbH",
            "request": "Gaskets of lot 4711 <b>harden</b>", "due_date": "2026-12-21",
            "status": "sent", "overdue": False, "editable": True,
            "response": {"containment": "Quarantined", "problem_statement": None, "whys": [],
                         "root_cause": None, "corrective_actions": []},
            "draft_saved_at": None, "submissions": 0, "responded_at": None,
            "decision_reason": None, "evidence": [],
            "link_expires_at": "2027-02-05T09:00:00Z"} | overrides


NONCE = re.compile(r'name="nonce" value="([^"]+)"')


def open_link(ui: TestClient, token: str = TOKEN) -> httpx.Response:
    """Follows the e-mail's link and confirms, as the supplier does."""
    page = ui.get(f"/supplier-response/{token}")
    if page.status_code != 200:
        return page
    nonce = NONCE.search(page.text)
    assert nonce, page.text
    return ui.post("/supplier-response/open", data={"token": token, "nonce": nonce.group(1)})


def supplier_api(fake_api: FakeApi, scar: dict[str, Any]) -> list[httpx.Request]:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.headers.get("authorization") != f"SCAR {TOKEN}":
            return httpx.Response(404, json={"detail": "This link does not open a SCAR."})
        return httpx.Response(200, json=scar)

    for method, path in (("GET", "/v1/supplier-response"), ("PUT", "/v1/supplier-response"),
                         ("POST", "/v1/supplier-response/submission")):
        fake_api.on(method, path, answer)
    return seen


def test_a_dead_link_is_one_page(ui: TestClient, fake_api: FakeApi) -> None:
    supplier_api(fake_api, scar_for_supplier())
    assert ui.get("/supplier-response").status_code == 404  # no cookie at all
    # A dead link: the one page at once (no confirmation, no cookie), as a dead cookie.
    dead = ui.get("/supplier-response/" + "X" * 43)
    assert dead.status_code == 404 and "Link not valid" in dead.text
    assert "set-cookie" not in dead.headers
    open_link(ui)
    fake_api.on("GET", "/v1/supplier-response", httpx.Response(404, json={"detail": "gone"}))
    gone = ui.get("/supplier-response")
    assert gone.status_code == 404 and "Link not valid" in gone.text
    fake_api.on("GET", "/v1/supplier-response",
                httpx.Response(429, json={"detail": "Too many"}, headers={"retry-after": "9"}))
    slow = ui.get("/supplier-response")
    assert slow.status_code == 429 and slow.headers["retry-after"] == "60"
    slow_link = ui.get(f"/supplier-response/{'Y' * 43}")
    assert slow_link.status_code == 429 and slow_link.headers["retry-after"] == "60"


def test_save_and_submit_send_the_response(ui: TestClient, fake_api: FakeApi) -> None:
    seen = supplier_api(fake_api, scar_for_supplier())
    open_link(ui)
    form = {"containment": " Quarantined ", "why_0": "Why hard?", "because_0": "Wrong grade",
            "why_1": "", "because_1": "", "root_cause": "No grade on drawing",
            "action_0": "Add grade", "action_due_0": "2027-01-10", "intent": "submit"}
    sent = ui.post("/supplier-response", data=form)
    assert sent.status_code == 303
    assert sent.headers["location"] == "/supplier-response?note=submitted"
    put = next(r for r in seen if r.method == "PUT")
    assert json.loads(put.content) == {
        "containment": "Quarantined", "problem_statement": None,
        "whys": [{"why": "Why hard?", "because": "Wrong grade"}],
        "root_cause": "No grade on drawing",
        "corrective_actions": [{"description": "Add grade", "due_date": "2027-01-10"}]}
    assert [r.method for r in seen if r.url.path.endswith("/submission")] == ["POST"]
    assert "submitted" in ui.get("/supplier-response?note=submitted").text


def test_refusals_come_back_on_the_fields(ui: TestClient, fake_api: FakeApi) -> None:
    supplier_api(fake_api, scar_for_supplier())
    fake_api.on("PUT", "/v1/supplier-response", httpx.Response(422, json={
        "detail": "The response holds markup or a script link.",
        "errors": [{"field": "whys.0.because", "message": "Links to scripts are not accepted"},
                   {"field": "body.corrective_actions.0.due_date", "message": "out of range"}]}))
    open_link(ui)
    page = ui.post("/supplier-response", data={"why_0": "w", "because_0": "<script>",
                                                "action_0": "a", "action_due_0": "1990-01-01",
                                                "intent": "save"})
    assert page.status_code == 422
    assert re.search(r'id="e-r-because_0">[^<]*Links to scripts', page.text)
    assert re.search(r'id="e-r-action_due_0">', page.text)
    assert "&lt;script&gt;" in page.text  # the supplier's text kept, escaped


def test_a_returned_response_says_why_and_an_accepted_one_is_read_only(
        ui: TestClient, fake_api: FakeApi) -> None:
    supplier_api(fake_api, scar_for_supplier(status="rejected",
                                              decision_reason="Transit stock missing"))
    open_link(ui)
    returned = ui.get("/supplier-response").text
    assert "Transit stock missing" in returned and "Submit response" in returned
    supplier_api(fake_api, scar_for_supplier(status="accepted", editable=False))
    done = ui.get("/supplier-response").text
    assert "was accepted" in done and "Submit response" not in done and "readonly" in done


def _supplier(**overrides: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "code": "acme-seals", "name": "Acme Seals",
            "supplies": "Gaskets", "criticality": "high",
            "contacts": [{"name": "Jana", "email": "jana@acme.example"}], "version": 1,
            "created_by": "m", "created_at": "2026-12-01T00:00:00Z",
            "updated_at": "2026-12-01T00:00:00Z"} | overrides


def test_the_register_for_managers_and_readers(ui: TestClient, fake_api: FakeApi) -> None:
    fake_api.on("GET", "/v1/suppliers", httpx.Response(200, json={
        "items": [_supplier()], "next_cursor": None}))
    posted: list[Any] = []

    def register(request: httpx.Request) -> httpx.Response:
        posted.append(json.loads(request.content))
        return httpx.Response(201, json=_supplier(), headers={"etag": '"1"'})

    fake_api.on("POST", "/v1/suppliers", register)
    csrf = sign_in(ui, "manager")
    listing = ui.get("/suppliers")
    assert "acme-seals" in listing.text and 'href="/suppliers/new"' in listing.text
    made = ui.post("/suppliers", data={"csrf_token": csrf, "code": "ACME Seals",
                                       "name": "Acme Seals", "criticality": "high",
                                       "contact_name_0": "Jana",
                                       "contact_email_0": "jana@acme.example"})
    assert made.status_code == 303 and made.headers["location"] == "/suppliers/acme-seals"
    assert posted == [{"code": "ACME Seals", "name": "Acme Seals", "supplies": None,
                       "criticality": "high",
                       "contacts": [{"name": "Jana", "email": "jana@acme.example"}]}]


def _scar(**overrides: Any) -> dict[str, Any]:
    return {"id": SCAR_ID, "number": "SCAR-2026-0001", "capa_id": CAPA_ID,
            "supplier_code": "acme-seals", "contact_name": "Jana",
            "contact_email": "jana@acme.example", "request": "Fix it",
            "due_date": "2026-12-21", "status": "responded", "overdue": False,
            "link_expires_at": "2027-02-05T09:00:00Z",
            "response": {"containment": "Quarantined", "problem_statement": None,
                         "whys": [{"why": "w", "because": "b"}], "root_cause": "Checklist",
                         "corrective_actions": [{"description": "a", "due_date": "2027-01-01"}]},
            "submissions": 1, "responded_at": "2026-12-10T00:00:00Z", "decided_by": None,
            "decided_at": None, "decision_reason": None, "sent_by": "e",
            "sent_at": "2026-12-07T00:00:00Z", "evidence": [], "version": 2} | overrides


def test_a_scar_page_judges_the_response(ui: TestClient, fake_api: FakeApi) -> None:
    fake_api.on("GET", f"/v1/scars/{SCAR_ID}", httpx.Response(200, json=_scar()))
    fake_api.on("GET", f"/v1/capas/{CAPA_ID}", httpx.Response(200, json={
        "id": CAPA_ID, "number": "CAPA-2026-00001", "title": "Seal leak", "status": "open"}))
    decided: list[Any] = []

    def decide(request: httpx.Request) -> httpx.Response:
        decided.append(json.loads(request.content))
        return httpx.Response(200, json=_scar(status="rejected"))

    fake_api.on("POST", f"/v1/scars/{SCAR_ID}/decision", decide)
    csrf = sign_in(ui, "engineer")
    page = ui.get(f"/scars/{SCAR_ID}")
    assert "Checklist" in page.text and "Accept response" in page.text
    assert "Send the link again" not in page.text  # the supplier answered
    done = ui.post(f"/scars/{SCAR_ID}/decision", data={
        "csrf_token": csrf, "decision": "reject", "reason": "Transit stock", "due_date": ""})
    assert done.status_code == 303
    assert decided == [{"decision": "reject", "reason": "Transit stock"}]
    assert ui.post(f"/scars/{SCAR_ID}/decision",
                   data={"decision": "accept"}).status_code == 403  # no CSRF token


def test_scorecards_page(ui: TestClient, fake_api: FakeApi) -> None:
    asked: list[httpx.Request] = []

    def cards(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        return httpx.Response(200, json={
            "since": "2026-09-08T00:00:00Z", "until": "2026-12-07T00:00:00Z",
            "items": [{"rank": 1, "supplier_code": "acme-seals", "name": "Acme Seals",
                       "criticality": "high", "nonconformities": 3, "repeat_rate": 0.667,
                       "scars_sent": 2, "median_response_days": 4.5, "on_time_closure": 0.5,
                       "open_items": 1},
                      {"rank": 2, "supplier_code": "ghost", "name": None, "criticality": None,
                       "nonconformities": 1, "repeat_rate": 0.0, "scars_sent": 0,
                       "median_response_days": None, "on_time_closure": None,
                       "open_items": 0}]})

    fake_api.on("GET", "/v1/suppliers/scorecards", cards)
    sign_in(ui, "reporter")
    page = ui.get("/suppliers/scorecards", params={"since": "2026-09-08", "until": ""})
    assert page.status_code == 200
    assert "67 %" in page.text and "4.5" in page.text and "(not in the register)" in page.text
    assert asked[-1].url.params["since"] == "2026-09-08T00:00:00Z"
    assert "until" not in asked[-1].url.params


def test_a_mangled_link_or_cookie_is_the_not_valid_page_never_a_500(
        ui: TestClient, fake_api: FakeApi) -> None:
    seen = supplier_api(fake_api, scar_for_supplier())
    # A mail client's non-breaking space inside the link, a smart quote, a short one.
    for bad in (TOKEN[:20] + "\u00a0" + TOKEN[20:], TOKEN[:42] + "\u2019", TOKEN[:10]):
        opened = ui.get("/supplier-response/" + quote(bad), follow_redirects=False)
        assert opened.status_code == 404 and "set-cookie" not in opened.headers, bad
    for value in (("\u00e9" * 43).encode(), b"junk"):
        for method in ("GET", "POST"):
            page = ui.request(method, "/supplier-response",
                              headers=[(b"cookie", b"capaflow_scar_link=" + value)])
            assert page.status_code == 404, (method, value, page.status_code)
    assert seen == []  # nothing of it reached the service


def test_the_access_log_never_holds_a_link_token(ui: TestClient) -> None:
    """uvicorn's access log record, as uvicorn makes it: the path is the credential."""
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                               '%s - "%s %s HTTP/%s" %d', (
                                   "127.0.0.1:5000", "GET", f"/supplier-response/{TOKEN}?x=1",
                                   "1.1", 303), None)
    for log_filter in logging.getLogger("uvicorn.access").filters:  # installed by create_app
        log_filter.filter(record)
    line = record.getMessage()
    assert TOKEN not in line and "/supplier-response/…?x=1" in line, line
