"""A supplier's page for everyone (its NCs, CAPAs, SCARs, scorecard), the edit
form for quality managers only, and "needs the manager role" for the rest."""

import re
import uuid
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.unit.web.conftest import FakeApi, sign_in

NC_ID, CAPA_ID, SCAR_ID = (str(uuid.uuid4()) for _ in range(3))


def supplier(**overrides: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "code": "acme-seals", "name": "Acme Seals GmbH",
            "supplies": "Gaskets and O-rings", "criticality": "high",
            "contacts": [{"name": "Jana Novak", "email": "jana@acme.example"}], "version": 3,
            "created_by": "m", "created_at": "2026-12-01T00:00:00Z",
            "updated_at": "2026-12-01T00:00:00Z"} | overrides


def records(code: str = "acme-seals", registered: bool = True) -> dict[str, Any]:
    return {"code": code, "supplier": supplier(code=code) if registered else None, "limit": 50,
            "nonconformities": [{"id": NC_ID, "number": "NC-2026-00007", "severity": "major",
                                 "reported_at": "2026-12-02T10:00:00Z"}],
            "capas": [{"id": CAPA_ID, "number": "CAPA-2026-00003", "title": "Gaskets harden",
                       "status": "implementing"}],
            "scars": [{"id": SCAR_ID, "number": "SCAR-2026-0002", "capa_id": CAPA_ID,
                       "status": "responded", "due_date": "2026-12-21",
                       "sent_at": "2026-12-03T09:00:00Z"}]}


def card(code: str = "acme-seals", name: str | None = "Acme Seals GmbH") -> dict[str, Any]:
    return {"rank": 1, "supplier_code": code, "name": name, "criticality": "high",
            "nonconformities": 4, "repeat_rate": 0.25, "scars_sent": 2,
            "median_response_days": 3.5, "on_time_closure": 0.5, "open_items": 2}


@pytest.fixture
def capa_api(fake_api: FakeApi) -> FakeApi:
    fake_api.on("GET", "/v1/suppliers/acme-seals/records", httpx.Response(200, json=records()))
    fake_api.on("GET", "/v1/suppliers/acme-seal/records",
                httpx.Response(200, json=records("acme-seal", registered=False)))
    fake_api.on("GET", "/v1/suppliers/scorecards", httpx.Response(200, json={
        "since": "2026-09-08T00:00:00Z", "until": "2026-12-07T00:00:00Z",
        "items": [card(), {**card("acme-seal", None), "rank": 2}]}))
    fake_api.on("GET", "/v1/suppliers/acme-seals",
                httpx.Response(200, json=supplier(), headers={"etag": '"3"'}))
    return fake_api


@pytest.mark.parametrize("role, contacts, edit", [
    ("reporter", False, False), ("engineer", True, False), ("manager", True, True),
    ("admin", True, True)])
def test_the_supplier_page_for_each_role(ui: TestClient, capa_api: FakeApi, role: str,
                                         contacts: bool, edit: bool) -> None:
    sign_in(ui, role)
    page = ui.get("/suppliers/acme-seals")
    assert page.status_code == 200, page.text
    text = page.text
    assert "<h1>Acme Seals GmbH</h1>" in text and "Gaskets and O-rings" in text
    assert "Criticality: High" in text  # labelled, not the raw value
    assert f'href="/nonconformities/{NC_ID}">NC-2026-00007' in text
    assert f'href="/capas/{CAPA_ID}">CAPA-2026-00003' in text and "Implementing" in text
    assert f'href="/scars/{SCAR_ID}">SCAR-2026-0002' in text and "responded" not in text
    assert re.search(r"Rank</dt><dd>1 of 2", text) and "25 %" in text
    assert ("jana@acme.example" in text) is contacts
    assert ('href="/suppliers/acme-seals/edit"' in text) is edit
    # No form, no empty contact slots: this is a page to read.
    assert 'action="/suppliers/acme-seals"' not in text
    assert 'name="contact_name_' not in text


def test_a_code_the_register_lacks_is_marked(ui: TestClient, capa_api: FakeApi) -> None:
    sign_in(ui, "manager")
    page = ui.get("/suppliers/acme-seal")
    assert page.status_code == 200
    assert "Not in the register" in page.text and "NC-2026-00007" in page.text
    assert 'href="/suppliers/new"' in page.text and "/edit" not in page.text


def test_an_invalid_code_is_a_404_page(ui: TestClient, fake_api: FakeApi) -> None:
    fake_api.on("GET", "/v1/suppliers/scorecards", httpx.Response(200, json={"items": []}))
    sign_in(ui, "reporter")
    assert ui.get("/suppliers/x").status_code == 404


@pytest.mark.parametrize("path", ["/suppliers/new", "/suppliers/acme-seals/edit"])
def test_the_forms_say_who_may_use_them(ui: TestClient, capa_api: FakeApi, path: str) -> None:
    sign_in(ui, "engineer")
    refused = ui.get(path)
    assert refused.status_code == 403
    assert "needs the manager role" in refused.text and "data-needs-role" in refused.text
    assert 'name="name"' not in refused.text and "<button" not in refused.text.split(
        "<main", 1)[-1].split("</main>")[0]
    sign_in(ui, "manager")
    form = ui.get(path)
    assert form.status_code == 200 and 'name="name"' in form.text


def test_the_edit_form_carries_the_version(ui: TestClient, capa_api: FakeApi) -> None:
    sign_in(ui, "manager")
    form = ui.get("/suppliers/acme-seals/edit").text
    assert re.search(r'name="etag" value="(&#34;|&quot;)3(&#34;|&quot;)"', form), form
    assert 'value="Acme Seals GmbH"' in form
