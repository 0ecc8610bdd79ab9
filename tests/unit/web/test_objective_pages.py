"""The quality-objectives page (/objectives) against a fake API: managers define, change
and remove objectives with the metrics the service offers; others read them only."""

import json
from typing import Any

import httpx
from fastapi.testclient import TestClient

from tests.unit.web.conftest import FakeApi, sign_in
from tests.unit.web.test_review_pages import HOSTILE, objective

OBJECTIVE_ID = "0b1ec71e-0000-4000-8000-000000000001"
# Not the service's list: a metric the UI cannot know by heart must show all the same.
METRICS = {"items": [
    {"name": "overdue_capas", "label": "Open CAPAs past their due date", "unit": "count",
     "direction": "at_most", "upper_bound": None, "takes_source": False},
    {"name": "supplier_response_days", "label": "Days a supplier takes to answer a SCAR",
     "unit": "days", "direction": "at_most", "upper_bound": None, "takes_source": True},
]}


def _serve(fake_api: FakeApi, **fields: Any) -> None:
    fake_api.on("GET", "/v1/objectives", httpx.Response(200, json={
        "items": [objective(**fields)]}))
    fake_api.on("GET", "/v1/objective-metrics", httpx.Response(200, json=METRICS))
    fake_api.on("GET", f"/v1/objectives/{OBJECTIVE_ID}", httpx.Response(
        200, json=objective(**fields), headers={"ETag": '"3"'}))


def _sent(fake_api: FakeApi, method: str) -> httpx.Request:
    return next(r for r in reversed(fake_api.requests) if r.method == method)


def test_a_manager_defines_an_objective_with_the_offered_metrics(
        ui: TestClient, fake_api: FakeApi) -> None:
    _serve(fake_api, title=HOSTILE)
    fake_api.on("POST", "/v1/objectives", httpx.Response(201, json=objective()))
    csrf = sign_in(ui, "manager")
    page = ui.get("/objectives")
    assert page.status_code == 200, page.text
    assert HOSTILE not in page.text and "&lt;img src=x" in page.text
    assert f'href="/objectives/{OBJECTIVE_ID}"' in page.text
    # The metric list is the service's, labels and all.
    assert '<option value="supplier_response_days">Days a supplier takes to answer a SCAR' \
        in page.text
    assert 'action="/objectives"' in page.text
    made = ui.post("/objectives", data={
        "csrf_token": csrf, "title": "Answer SCARs fast", "metric": "supplier_response_days",
        "target": "7,5", "deadline": "2027-06-30", "source": "", "period_days": "",
        "owner": ""})
    assert made.status_code == 303 and made.headers["location"] == "/objectives"
    body = json.loads(_sent(fake_api, "POST").content)
    # Blank optional fields are left to the service (30-day periods, every source).
    assert body == {"title": "Answer SCARs fast", "metric": "supplier_response_days",
                    "target": 7.5, "deadline": "2027-06-30"}


def test_a_refused_definition_comes_back_on_its_field_with_what_was_typed(
        ui: TestClient, fake_api: FakeApi) -> None:
    _serve(fake_api)
    fake_api.on("POST", "/v1/objectives", httpx.Response(422, json={
        "title": "Unprocessable", "detail": "The request is not valid.",
        "errors": [{"field": "target", "message": "Input should be a valid number"}]}))
    csrf = sign_in(ui, "manager")
    page = ui.post("/objectives", data={
        "csrf_token": csrf, "title": "Kept title", "metric": "overdue_capas",
        "target": "lots", "deadline": "2027-06-30"})
    assert page.status_code == 422
    assert json.loads(_sent(fake_api, "POST").content)["target"] == "lots"
    assert 'id="f-o-target" name="target" type="text" value="lots"' in page.text
    assert 'aria-invalid="true"' in page.text and 'value="Kept title"' in page.text


def test_a_manager_changes_and_removes_an_objective_at_the_version_read(
        ui: TestClient, fake_api: FakeApi) -> None:
    _serve(fake_api)
    fake_api.on("PATCH", f"/v1/objectives/{OBJECTIVE_ID}", httpx.Response(
        200, json=objective(target=1)))
    fake_api.on("DELETE", f"/v1/objectives/{OBJECTIVE_ID}", httpx.Response(204))
    csrf = sign_in(ui, "manager")
    page = ui.get(f"/objectives/{OBJECTIVE_ID}")
    assert page.status_code == 200, page.text
    assert 'name="etag" value="&#34;3&#34;"' in page.text
    assert 'value="No overdue CAPAs"' in page.text and 'class="sparkline"' in page.text
    saved = ui.post(f"/objectives/{OBJECTIVE_ID}", data={
        "csrf_token": csrf, "etag": '"3"', "title": "No overdue CAPAs", "target": "1",
        "deadline": "2027-03-31", "period_days": "30", "owner": ""})
    assert saved.status_code == 303
    patch = _sent(fake_api, "PATCH")
    assert patch.headers["if-match"] == '"3"'
    assert json.loads(patch.content) == {"title": "No overdue CAPAs", "target": 1.0,
                                         "deadline": "2027-03-31", "period_days": 30,
                                         "owner": None}
    removed = ui.post(f"/objectives/{OBJECTIVE_ID}/delete", data={"csrf_token": csrf,
                                                                  "etag": '"3"'})
    assert removed.status_code == 303
    assert _sent(fake_api, "DELETE").headers["if-match"] == '"3"'


def test_a_stale_change_says_someone_else_changed_it_first(
        ui: TestClient, fake_api: FakeApi) -> None:
    _serve(fake_api)
    fake_api.on("PATCH", f"/v1/objectives/{OBJECTIVE_ID}", httpx.Response(412, json={
        "title": "Precondition Failed", "detail": "The version changed."}))
    csrf = sign_in(ui, "manager")
    page = ui.post(f"/objectives/{OBJECTIVE_ID}", data={
        "csrf_token": csrf, "etag": '"2"', "title": "Mine", "target": "1",
        "deadline": "2027-03-31"})
    assert page.status_code == 412
    assert "Someone else changed this first" in page.text and 'value="Mine"' in page.text


def test_others_read_the_objectives_without_any_form(
        ui: TestClient, fake_api: FakeApi) -> None:
    _serve(fake_api)
    sign_in(ui, "engineer")
    page = ui.get("/objectives")
    assert page.status_code == 200 and "No overdue CAPAs" in page.text
    assert "<form method=\"post\" action=\"/objectives\"" not in page.text
    assert not any(r.url.path == "/v1/objective-metrics" for r in fake_api.requests)
    detail = ui.get(f"/objectives/{OBJECTIVE_ID}")
    assert detail.status_code == 200 and "Remove objective" not in detail.text
    assert 'name="etag"' not in detail.text
    assert ui.get("/objectives/not-an-id").status_code == 404


def test_the_dashboard_panel_links_to_the_objectives_page_as_stacked_cards(
        ui: TestClient, fake_api: FakeApi) -> None:
    _serve(fake_api)
    sign_in(ui, "manager")
    page = ui.get("/dashboard")
    assert 'href="/objectives"' in page.text and "Define, change or remove" in page.text
    # table.cards: each objective one card at 390 px, every cell labelled.
    assert 'class="cards objective-table"' in page.text
    for label in ("Target", "Now", "Trend", "Status"):
        assert f'data-label="{label}"' in page.text
