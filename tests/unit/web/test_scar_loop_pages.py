"""The SCAR pages against a fake CAPA API: attaching a file keeps the unsaved texts
(one multipart form; Attach and Remove save the draft first), the Send SCAR form
offers the CAPA's supplier's contacts only (else every supplier's, grouped), the
SCAR's state in words on both sides, the supplier by name, a withdrawal called
so, and no way from the supplier's form to the staff sign-in."""

import json
import re
import uuid
from typing import Any

import httpx
from fastapi.testclient import TestClient

from tests.unit.web.conftest import FakeApi, sign_in
from tests.unit.web.test_supplier_pages import (
    CAPA_ID,
    SCAR_ID,
    TOKEN,
    _scar,
    open_link,
    scar_for_supplier,
    supplier_api,
)

FILE_ID = str(uuid.uuid4())
TEXTS = {"containment": "Lot 4711 quarantined", "why_0": "Why hard?", "because_0": "Grade",
         "root_cause": "No grade on the drawing", "action_0": "", "action_due_0": ""}


def _with_files(fake_api: FakeApi) -> list[httpx.Request]:
    seen = supplier_api(fake_api, scar_for_supplier(evidence=[{
        "id": FILE_ID, "filename": "wrong lot.pdf", "size": 9, "submitted": False}]))

    def files(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.headers.get("authorization") != f"SCAR {TOKEN}":
            return httpx.Response(404, json={"detail": "gone"})
        if request.method == "DELETE":
            return httpx.Response(204)
        return httpx.Response(201, json={"id": str(uuid.uuid4()), "filename": "8D.pdf",
                                         "size": 9, "submitted": False})

    fake_api.on("POST", "/v1/supplier-response/evidence", files)
    fake_api.on("DELETE", f"/v1/supplier-response/evidence/{FILE_ID}", files)
    return seen


def test_the_response_form_is_one_multipart_form(ui: TestClient, fake_api: FakeApi) -> None:
    _with_files(fake_api)
    open_link(ui)
    page = ui.get("/supplier-response")
    forms = re.findall(r"<form\b[^>]*>", page.text)
    assert forms == ['<form method="post" action="/supplier-response" '
                     'enctype="multipart/form-data" novalidate>']
    assert re.search(r'<button type="submit" class="secondary" formaction="/supplier-response/'
                     r'evidence" formenctype="multipart/form-data">Attach</button>', page.text)
    assert f'formaction="/supplier-response/evidence/{FILE_ID}/removal"' in page.text
    # Enter in a field presses the first button: Attach (a plain save without a file),
    # never a Remove.
    assert page.text.index(">Attach</button>") < page.text.index("Remove wrong lot.pdf")


def test_attach_saves_the_texts_first_then_attaches(ui: TestClient,
                                                   fake_api: FakeApi) -> None:
    seen = _with_files(fake_api)
    open_link(ui)
    done = ui.post("/supplier-response/evidence", data=TEXTS,
                   files={"file": ("8D.pdf", b"%PDF-1.4 x", "application/pdf")})
    assert done.status_code == 303
    assert done.headers["location"] == "/supplier-response?note=attached#files"
    writes = [r for r in seen if r.method != "GET"]
    assert [(r.method, r.url.path) for r in writes] == [
        ("PUT", "/v1/supplier-response"), ("POST", "/v1/supplier-response/evidence")]
    assert json.loads(writes[0].content)["containment"] == "Lot 4711 quarantined"
    # No file chosen: the texts are saved all the same.
    plain = ui.post("/supplier-response/evidence", data=TEXTS)
    assert plain.headers["location"] == "/supplier-response?note=saved"


def test_a_refused_draft_keeps_the_texts_and_attaches_nothing(ui: TestClient,
                                                             fake_api: FakeApi) -> None:
    seen = _with_files(fake_api)
    fake_api.on("PUT", "/v1/supplier-response", httpx.Response(422, json={
        "detail": "A corrective action's date is out of range.",
        "errors": [{"field": "corrective_actions.0.due_date", "message": "give a date"}]}))
    open_link(ui)
    refused = ui.post("/supplier-response/evidence", data=TEXTS | {
        "action_0": "Add grade", "action_due_0": "1999-01-01"},
        files={"file": ("8D.pdf", b"%PDF-1.4 x", "application/pdf")})
    assert refused.status_code == 422
    assert "Lot 4711 quarantined" in refused.text and "give a date" in refused.text
    assert not [r for r in seen if r.url.path.endswith("/evidence") and r.method == "POST"]


def test_remove_saves_the_texts_first(ui: TestClient, fake_api: FakeApi) -> None:
    seen = _with_files(fake_api)
    open_link(ui)
    done = ui.post(f"/supplier-response/evidence/{FILE_ID}/removal", data=TEXTS)
    assert done.headers["location"] == "/supplier-response?note=removed#files"
    assert [r.method for r in seen if r.method != "GET"] == ["PUT", "DELETE"]
    # A removal posted without the texts (a page of the earlier version) just removes.
    ui.post(f"/supplier-response/evidence/{FILE_ID}/removal")
    assert [r.method for r in seen if r.method != "GET"][-1] == "DELETE"


def test_save_attaches_a_chosen_file_before_submitting(ui: TestClient,
                                                      fake_api: FakeApi) -> None:
    seen = _with_files(fake_api)
    open_link(ui)
    ui.post("/supplier-response", data=TEXTS | {"intent": "submit"},
            files={"file": ("8D.pdf", b"%PDF-1.4 x", "application/pdf")})
    assert [r.url.path for r in seen if r.method != "GET"] == [
        "/v1/supplier-response", "/v1/supplier-response/evidence",
        "/v1/supplier-response/submission"]


def test_the_supplier_form_says_the_state_in_words_and_has_no_sign_in_link(
        ui: TestClient, fake_api: FakeApi) -> None:
    supplier_api(fake_api, scar_for_supplier(status="rejected", decision_reason="Transit"))
    open_link(ui)
    page = ui.get("/supplier-response")
    assert "Returned to the supplier" in page.text
    assert ">rejected<" not in page.text
    assert '<span class="brand">CAPAflow</span>' in page.text
    assert 'href="/"' not in page.text and "sign-in" not in page.text


def _capa(**extra: Any) -> dict[str, Any]:
    return {"id": CAPA_ID, "number": "CAPA-2026-00001", "title": "Seal leak",
            "status": "open", "supplier_code": None} | extra


def _suppliers(fake_api: FakeApi) -> None:
    fake_api.on("GET", "/v1/suppliers", httpx.Response(200, json={"next_cursor": None, "items": [
        {"code": "euro-pcb", "name": "Euro PCB Ltd", "contacts": [
            {"name": "Tom", "email": "tom@europcb.example"}]},
        {"code": "acme-seals", "name": "Acme Seals GmbH", "contacts": [
            {"name": "Jana", "email": "jana@acme.example"},
            {"name": "Piet", "email": "piet@acme.example"}]}]}))


def test_send_offers_the_capas_supplier_only(ui: TestClient, fake_api: FakeApi) -> None:
    _suppliers(fake_api)
    fake_api.on("GET", f"/v1/capas/{CAPA_ID}",
                httpx.Response(200, json=_capa(supplier_code="acme-seals")))
    sign_in(ui, "engineer")
    page = ui.get(f"/capas/{CAPA_ID}/scars/new")
    assert "tom@europcb.example" not in page.text
    assert '<option value="acme-seals|jana@acme.example" selected>' in page.text
    assert 'value="acme-seals|piet@acme.example"' in page.text
    assert "Choose a contact" not in page.text


def test_send_groups_every_suppliers_contacts_when_the_capa_names_none(
        ui: TestClient, fake_api: FakeApi) -> None:
    _suppliers(fake_api)
    fake_api.on("GET", f"/v1/capas/{CAPA_ID}", httpx.Response(200, json=_capa()))
    sign_in(ui, "engineer")
    page = ui.get(f"/capas/{CAPA_ID}/scars/new")
    groups = re.findall(r'<optgroup label="([^"]+)">', page.text)
    assert groups == ["Acme Seals GmbH (acme-seals)", "Euro PCB Ltd (euro-pcb)"]
    assert " selected>" not in page.text and "Choose a contact" in page.text
    assert "the CAPA is left as it is" in page.text


def test_the_scar_page_names_the_supplier_and_a_withdrawal(ui: TestClient,
                                                          fake_api: FakeApi) -> None:
    fake_api.on("GET", f"/v1/scars/{SCAR_ID}", httpx.Response(200, json=_scar(
        status="revoked", decided_by="dev-engineer", decided_at="2026-12-11T09:00:00Z",
        decision_reason="Wrong lot")))
    fake_api.on("GET", f"/v1/capas/{CAPA_ID}", httpx.Response(200, json=_capa()))
    fake_api.on("GET", "/v1/suppliers/acme-seals", httpx.Response(200, json={
        "code": "acme-seals", "name": "Acme Seals GmbH", "contacts": []}))
    sign_in(ui, "engineer")
    page = ui.get(f"/scars/{SCAR_ID}")
    assert ">Acme Seals GmbH</a> <span class=\"muted\">(acme-seals)</span>" in page.text
    assert "<dt>Withdrawn</dt>" in page.text and "<dt>Decided</dt>" not in page.text
    assert ">Withdrawn</span>" in page.text and ">revoked<" not in page.text
