"""The dashboard's quality-objectives panel and the review pack page against a fake
API: what they show, what they send, how a refusal comes back on the form."""

import json
import re
from typing import Any

import httpx
from fastapi.testclient import TestClient

from tests.unit.web.conftest import KEYS, FakeApi, sign_in
from tests.unit.web.fake_notifications import sent

HOSTILE = '<img src=x onerror="alert(1)">'
CAPA_ID = "c0ffee00-0000-4000-8000-000000000001"


def objective(**fields: Any) -> dict[str, Any]:
    trend = [{"since": f"2026-0{i}-01T00:00:00Z", "until": f"2026-0{i + 1}-01T00:00:00Z",
              "value": v} for i, v in enumerate([4, 3, None, 2, 2, 1], start=1)]
    return {"id": "0b1ec71e-0000-4000-8000-000000000001", "title": "No overdue CAPAs",
            "metric": "overdue_capas", "metric_label": "Open CAPAs past their due date",
            "unit": "count", "direction": "at_most", "source": None, "target": 0,
            "deadline": "2027-03-31", "period_days": 30, "owner": None, "version": 1,
            "created_by": "test-manager", "created_at": "2026-11-01T00:00:00Z",
            "updated_at": "2026-11-01T00:00:00Z",
            "progress": {"current": 1, "trend": trend, "state": "off_track", "on_track": False,
                         "target_met": False, "projected": 0.5,
                         "reason": "At this trend the target is not reached by the deadline."}
            } | fields


PACK = {
    "period": {"since": "2026-09-01T00:00:00Z", "until": "2026-12-01T00:00:00Z"},
    "previous_period": {"since": "2026-06-02T00:00:00Z", "until": "2026-09-01T00:00:00Z"},
    "as_of": "2026-12-01T09:00:00Z", "sha256": "ab" * 32,
    "comparison": [{"figure": "closed_in_period", "label": "CAPAs closed", "current": 4,
                    "previous": 1, "change": 3},
                   {"figure": "effectiveness_rate", "label": "Effectiveness rate",
                    "current": 1.0, "previous": 0.75, "change": 0.25},
                   {"figure": "reopen_rate", "label": "Repeat (reopen) rate", "current": 0.0,
                    "previous": None, "change": None}],
    "figures": {}, "previous_figures": {}, "objectives": [objective()],
    "open_capas": {"items": [{"id": CAPA_ID, "number": "CAPA-2026-00001",
                              "title": HOSTILE, "overdue": True}],
                   "total": 1, "truncated": False},
    "open_actions": {"items": [], "total": 0, "truncated": False},
    "lessons": {"items": [], "total": 0, "truncated": False},
    "supplier_scorecards": {"available": False, "note": "later", "items": []},
}


def test_the_dashboard_shows_each_objective_with_its_trend_and_state(
        ui: TestClient, fake_api: FakeApi) -> None:
    fake_api.on("GET", "/v1/objectives", httpx.Response(200, json={
        "items": [objective(title=HOSTILE)]}))
    sign_in(ui, "reporter")
    page = ui.get("/dashboard")
    assert page.status_code == 200, page.text
    assert HOSTILE not in page.text and "&lt;img src=x" in page.text
    assert 'data-state="off_track"' in page.text and "off track" in page.text
    assert 'class="sparkline"' in page.text
    # One gap in the trend: two line pieces, the second ending in the current point.
    assert page.text.count("<polyline") == 2
    assert "at most 0 by 2027-03-31" in page.text


def test_the_dashboard_stays_readable_when_objectives_cannot_be_read(
        ui: TestClient, fake_api: FakeApi) -> None:
    fake_api.on("GET", "/v1/objectives", httpx.Response(503, json={"detail": "down"}))
    sign_in(ui, "reporter")
    page = ui.get("/dashboard")
    assert page.status_code == 200
    assert "The objectives are not available: down" in page.text


def test_the_pack_page_asks_for_the_period_and_offers_the_downloads(
        ui: TestClient, fake_api: FakeApi) -> None:
    fake_api.on("GET", "/v1/management-review/pack", httpx.Response(200, json=PACK))
    fake_api.on("GET", "/v1/management-reviews", httpx.Response(200, json={
        "items": [], "next_cursor": None}))
    fake_api.on("GET", "/v1/management-review/pack.pdf", httpx.Response(
        200, content=b"%PDF-1.4 fake", headers={
            "content-type": "application/pdf", "x-pack-sha256": "cd" * 32,
            "content-disposition": 'attachment; filename="management-review-2026-12-01.pdf"'}))
    sign_in(ui, "manager")
    page = ui.get("/review-pack", params={"since": "2026-09-01", "until": "2026-11-30"})
    assert page.status_code == 200, page.text
    asked = sent(fake_api, "GET", "/v1/management-review/pack")[-1]
    assert dict(asked.url.params) == {"since": "2026-09-01", "until": "2026-12-01"}
    assert 'href="/review-pack.pdf?since=2026-09-01&amp;until=2026-11-30"' in page.text
    assert 'data-figure="closed_in_period"' in page.text and "ab" * 32 in page.text
    assert HOSTILE not in page.text
    pdf = ui.get("/review-pack.pdf", params={"since": "2026-09-01", "until": "2026-11-30"})
    assert dict(sent(fake_api, "GET", "/v1/management-review/pack.pdf")[-1].url.params) == \
        {"since": "2026-09-01", "until": "2026-12-01"}
    assert pdf.content == b"%PDF-1.4 fake"
    assert pdf.headers["x-pack-sha256"] == "cd" * 32
    assert pdf.headers["content-disposition"].startswith("attachment")
    assert sent(fake_api, "GET", "/v1/management-review/pack.pdf")[-1].headers[
        "authorization"] == f"Bearer {KEYS['manager']}"


def _meeting_form(csrf: str, **fields: str) -> dict[str, str]:
    return {"csrf_token": csrf, "pack_since": PACK["period"]["since"],
            "pack_until": PACK["period"]["until"], "pack_sha256": "ab" * 32,
            "since": "2026-09-01", "until": "2026-11-30", "held_on": "2026-12-02",
            "attendees": "test-manager, Anna Berg (auditor)",
            "text_1": "Open a CAPA on label smudges",
            "owner_1": "ops-lead", "due_1": "2026-12-31", "follow_up_1": "capa",
            "capa_title_1": "Labels smudge", "severity_1": "minor",
            "text_2": "Inspect labels", "owner_2": "qa-lead", "due_2": "2026-12-20",
            "follow_up_2": "action", "capa_id_2": CAPA_ID, "idempotency_key": "k1"} | fields


def test_recording_a_meeting_sends_the_pack_and_the_filled_decisions(
        ui: TestClient, fake_api: FakeApi) -> None:
    fake_api.on("POST", "/v1/management-reviews", httpx.Response(201, json={"id": "x"}))
    csrf = sign_in(ui, "manager")
    answer = ui.post("/review-pack/meetings", data=_meeting_form(csrf))
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/review-pack?since=2026-09-01&until=2026-11-30"
    request = sent(fake_api, "POST", "/v1/management-reviews")[-1]
    body = json.loads(request.content)
    assert request.headers["idempotency-key"] == "k1"
    assert body["pack"] == {"since": PACK["period"]["since"],
                            "until": PACK["period"]["until"], "sha256": "ab" * 32}
    assert body["attendees"] == ["test-manager", "Anna Berg (auditor)"]
    first, second = body["decisions"]  # the third row was left empty
    assert first["follow_up"] == {"opens": "capa", "title": "Labels smudge",
                                  "severity": "minor"}
    assert second["follow_up"] == {"opens": "action", "capa_id": CAPA_ID,
                                   "description": "Inspect labels"}


def test_a_refused_meeting_comes_back_with_the_message_at_the_field(
        ui: TestClient, fake_api: FakeApi) -> None:
    fake_api.on("GET", "/v1/management-review/pack", httpx.Response(200, json=PACK))
    fake_api.on("GET", "/v1/management-reviews", httpx.Response(200, json={
        "items": [], "next_cursor": None}))
    fake_api.on("POST", "/v1/management-reviews", httpx.Response(422, json={
        "title": "Validation failed", "detail": "Validation failed",
        "errors": [{"field": "decisions.0.owner", "message": "String should match pattern"}]}))
    csrf = sign_in(ui, "manager")
    answer = ui.post("/review-pack/meetings", data=_meeting_form(csrf, owner_1="bad\u200bname"))
    assert answer.status_code == 422
    assert 'id="e-d1-owner_1"' in answer.text
    assert 'value="bad\u200bname"' in answer.text  # the person's input is kept


def _links(page: str) -> dict[str, str]:
    found = dict(re.findall(r'href="/review-pack\.(csv|pdf)\?([^"]*)"', page))
    return {kind: query.replace("&amp;", "&") for kind, query in found.items()}


def test_the_downloads_cover_exactly_the_period_the_page_shows(
        ui: TestClient, fake_api: FakeApi) -> None:
    fake_api.on("GET", "/v1/management-review/pack", httpx.Response(200, json=PACK))
    fake_api.on("GET", "/v1/management-reviews", httpx.Response(200, json={
        "items": [], "next_cursor": None}))
    for kind in ("csv", "pdf"):
        fake_api.on("GET", f"/v1/management-review/pack.{kind}", httpx.Response(
            200, content=b"file", headers={"content-type": "application/octet-stream"}))
    sign_in(ui, "manager")
    page = ui.get("/review-pack", params={"since": "2026-11-01", "until": "2026-11-30"})
    shown = dict(sent(fake_api, "GET", "/v1/management-review/pack")[-1].url.params)
    assert shown == {"since": "2026-11-01", "until": "2026-12-01"}
    links = _links(page.text)
    assert set(links) == {"csv", "pdf"}
    for kind, query in links.items():
        assert ui.get(f"/review-pack.{kind}?{query}").status_code == 200
        asked = sent(fake_api, "GET", f"/v1/management-review/pack.{kind}")[-1]
        assert dict(asked.url.params) == shown, kind  # not the API's default, not a day more


def test_the_pack_page_shows_percentages_inclusive_days_and_counted_words(
        ui: TestClient, fake_api: FakeApi) -> None:
    fake_api.on("GET", "/v1/management-review/pack", httpx.Response(200, json=PACK | {
        "objectives": [objective(), objective()]}))
    decisions = [{"id": "d1", "sequence": 1, "text": "Open one", "owner": "ops",
                  "due_date": "2026-12-31", "capa_id": CAPA_ID,
                  "capa_number": "CAPA-2026-00042", "action_id": None},
                 {"id": "d2", "sequence": 2, "text": "Add one", "owner": "qa",
                  "due_date": "2026-12-31", "capa_id": CAPA_ID,
                  "capa_number": "CAPA-2026-00001", "action_id": "a1"}]
    fake_api.on("GET", "/v1/management-reviews", httpx.Response(200, json={"items": [{
        "id": "r1", "held_on": "2026-12-02", "attendees": ["qa"], "notes": None,
        "pack": {"since": "2026-09-01T00:00:00Z", "until": "2026-12-01T00:00:00Z",
                 "sha256": "ab" * 32},
        "recorded_by": "qa", "recorded_at": "2026-12-02T10:00:00Z",
        "decisions": decisions}], "next_cursor": None}))
    sign_in(ui, "manager")
    page = ui.get("/review-pack", params={"since": "2026-09-01", "until": "2026-11-30"}).text
    assert "Pack 2026-09-01 to 2026-11-30" in page and "end exclusive" not in page
    assert "2026-06-02 to 2026-08-31" in page  # the previous period's caption
    assert "2026-09-01 to 2026-11-30<br>" in page  # the recorded meeting's pack
    rate = re.search(r'data-figure="effectiveness_rate">(.*?)</tr>', page)
    assert rate and "<td>100.0 %</td><td>75.0 %</td><td>25.0 points up</td>" in rate.group(1)
    assert "<td>0.0 %</td>" in page and ">1.0<" not in page
    assert "2 quality objectives," in page and "1 open CAPA," in page
    assert "0 open actions;" in page and "0 lessons learned" in page and "(s)" not in page
    assert "CAPA-2026-00042 opened</a>" in page
    assert "action on CAPA-2026-00001</a>" in page


def test_dates_at_the_edge_are_field_errors_never_a_500(
        ui: TestClient, fake_api: FakeApi) -> None:
    # Year 9999's "day after" and year 1's quarter before overflowed Python's dates.
    fake_api.on("GET", "/v1/management-review/pack", httpx.Response(200, json=PACK))
    fake_api.on("GET", "/v1/management-reviews", httpx.Response(200, json={
        "items": [], "next_cursor": None}))
    sign_in(ui, "manager")
    for params in ({"until": "9999-12-31"}, {"since": "9999-12-30", "until": "9999-12-31"},
                   {"until": "0001-01-01"}, {"since": "0001-01-02"}):
        page = ui.get("/review-pack", params=params)
        assert page.status_code == 422, (params, page.status_code)
        assert "Give a date from" in page.text
        for suffix in (".csv", ".pdf"):
            assert ui.get(f"/review-pack{suffix}", params=params).status_code == 422, params
