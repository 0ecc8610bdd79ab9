"""Management review, subscriptions and lessons learned pages against a fake API:
what the UI shows of the API's answers, what it sends, and how it takes refusals."""

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.unit.web.conftest import KEYS, FakeApi, sign_in
from tests.unit.web.fake_notifications import (
    FakeSubscriptions,
    create_form,
    problem,
    sent,
)

HOSTILE = '<img src=x onerror="alert(1)">'
REVIEW = {
    "since": "2025-11-26T00:00:00Z", "until": "2026-11-26T00:00:00Z",
    "as_of": "2026-11-26T09:00:00Z",
    "open_by_state": {"open": 2, "investigating": 3, "action_planned": 1, "implementing": 0,
                      "verifying": 1},
    "open_by_age_days": {"0-30": 4, "31-60": 2, "61-90": 0, "91+": 1},
    "open_total": 7, "overdue": 2, "opened_in_period": 10, "closed_in_period": 4,
    "median_days_to_close": 41.5, "effectiveness_checks": 5, "effectiveness_rate": 0.8,
    "reopen_rate": 0.25,
    "root_cause_categories": [
        {"name": "process", "count": 6, "cumulative_percent": 60.0},
        {"name": "materials_supplier", "count": 3, "cumulative_percent": 90.0},
        {"name": HOSTILE, "count": 1, "cumulative_percent": 100.0}],
    "nonconformity_sources": [{"name": "support", "count": 10, "cumulative_percent": 100.0}],
}
WEEKLY = {"since": "2026-11-09", "until": "2026-11-30", "sources": ["monitoring", "support"],
          "weeks": [{"week_start": "2026-11-09", "counts": {"monitoring": 10, "support": 3},
                     "total": 13},
                    {"week_start": "2026-11-16", "counts": {"monitoring": 0, "support": 0},
                     "total": 0},
                    {"week_start": "2026-11-23", "counts": {"monitoring": 1, "support": 2},
                     "total": 3}]}


def svgs(page: str) -> dict[str, str]:
    return {m.group(1): m.group(0) for m in re.finditer(
        r'<svg [^>]*aria-labelledby="(chart-[a-z]+)-title[^"]*"[^>]*>.*?</svg>', page, re.S)}


# --- management review ---------------------------------------------------------------


@pytest.mark.requirement("cfr820-100a7")
def test_dashboard_draws_the_review_figures_and_weekly_ncs(ui: TestClient,
                                                          fake_api: FakeApi) -> None:
    fake_api.on("GET", "/v1/management-review", httpx.Response(200, json=REVIEW))
    fake_api.on("GET", "/v1/reports/nonconformities-per-week", httpx.Response(200, json=WEEKLY))
    sign_in(ui, "manager")
    page = ui.get("/dashboard", params={"since": "2026-01-01", "until": "2026-06-30",
                                        "weeks": "26"})
    assert page.status_code == 200, page.text
    # The period goes to the API as [since, until): the day after the inclusive end;
    # the previous period (as many days, just before) is asked too.
    asked = sent(fake_api, "GET", "/v1/management-review")
    assert sorted(tuple(r.url.params.items()) for r in asked) == [
        (("since", "2025-07-04"), ("until", "2026-01-01")),
        (("since", "2026-01-01"), ("until", "2026-07-01"))]
    assert {r.headers["authorization"] for r in asked} == {f"Bearer {KEYS['manager']}"}
    weekly = sent(fake_api, "GET", "/v1/reports/nonconformities-per-week")[-1]
    assert weekly.url.params["weeks"] == "26"

    charts = svgs(page.text)
    assert set(charts) == {"chart-causes", "chart-aging", "chart-sources", "chart-weekly"}
    for markup in charts.values():
        assert 'role="img"' in markup and "<title id=" in markup and "<desc id=" in markup
    causes = charts["chart-causes"]
    assert re.findall(r'class="bar"[^>]*data-value="(\d+)"', causes) == ["6", "3", "1"]
    assert 'class="cumulative"' in causes and "Process: 6 (cumulative 60%)" in causes
    assert re.findall(r'data-value="(\d+)"', charts["chart-aging"]) == ["4", "2", "0", "1"]
    weekly_svg = charts["chart-weekly"]
    assert 'data-series="Monitoring alert"' in weekly_svg
    assert 'data-series="Support ticket"' in weekly_svg
    assert "09 Nov: 13 (Monitoring alert 10, Support ticket 3)" in weekly_svg
    # The same figures as tables, and the key numbers.
    assert '<th scope="row">2026-11-09</th>' in page.text
    assert re.search(r'data-figure="open_total"><a href="/capas"[^>]*>7</a>', page.text)
    assert "80.0 %" in page.text and "41.5" in page.text
    assert "<details>" in page.text
    # A category typed by people is text everywhere, never markup.
    assert HOSTILE not in page.text and "&lt;img src=x" in page.text


def test_dashboard_with_a_bad_period_says_which_field(ui: TestClient,
                                                       fake_api: FakeApi) -> None:
    fake_api.on("GET", "/v1/management-review", httpx.Response(200, json=REVIEW))
    fake_api.on("GET", "/v1/reports/nonconformities-per-week", httpx.Response(200, json=WEEKLY))
    sign_in(ui, "manager")
    page = ui.get("/dashboard", params={"since": "2026-13-01"})
    assert page.status_code == 422
    assert re.search(r'id="f-since"[^>]*aria-invalid="true" aria-describedby="e-since"',
                     page.text, re.S)
    assert 'id="e-since"' in page.text
    # The default period (the 365 days up to today) is shown meanwhile.
    until = datetime.now(UTC).date() + timedelta(days=1)
    assert (("since", (until - timedelta(days=365)).isoformat()), ("until", until.isoformat())) \
        in [tuple(r.url.params.items()) for r in sent(fake_api, "GET", "/v1/management-review")]
    assert 'aria-labelledby="chart-causes-title' in page.text

    def refuse_period(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("since"):
            return problem(422, "'since' must be before 'until'.",
                           [{"field": "query.since", "message": "must be before until"}])
        return httpx.Response(200, json=REVIEW)

    fake_api.on("GET", "/v1/management-review", refuse_period)
    page = ui.get("/dashboard", params={"since": "2026-06-01", "until": "2026-06-01"})
    assert page.status_code == 422 and "must be before until" in page.text


def test_a_refused_panel_is_a_message_and_the_rest_still_shows(ui: TestClient,
                                                                fake_api: FakeApi) -> None:
    fake_api.on("GET", "/v1/management-review", httpx.Response(200, json=REVIEW))
    fake_api.on("GET", "/v1/reports/nonconformities-per-week",
                problem(403, "This key may not read nonconformities."))
    sign_in(ui, "manager")
    page = ui.get("/dashboard")
    assert page.status_code == 200
    assert "You may not see these figures: This key may not read nonconformities." in page.text
    assert set(svgs(page.text)) == {"chart-causes", "chart-aging", "chart-sources"}

    fake_api.on("GET", "/v1/management-review", httpx.Response(503))
    page = ui.get("/dashboard")
    assert page.status_code == 200
    assert re.search(r'id="panel-capas".*?These figures are not available', page.text, re.S)
    assert "chart-causes" not in page.text


def test_empty_review_draws_no_data_charts(ui: TestClient, fake_api: FakeApi) -> None:
    empty = REVIEW | {"root_cause_categories": [], "nonconformity_sources": [],
                      "open_by_age_days": {"0-30": 0, "31-60": 0, "61-90": 0, "91+": 0},
                      "effectiveness_rate": None, "reopen_rate": None,
                      "median_days_to_close": None}
    fake_api.on("GET", "/v1/management-review", httpx.Response(200, json=empty))
    fake_api.on("GET", "/v1/reports/nonconformities-per-week", httpx.Response(
        200, json={"since": "2026-11-23", "until": "2026-11-30", "sources": [],
                   "weeks": [{"week_start": "2026-11-23", "counts": {}, "total": 0}]}))
    sign_in(ui, "engineer")
    page = ui.get("/dashboard")
    assert page.status_code == 200
    assert page.text.count("No data for this period</text>") == 4
    assert 'class="bar"' not in page.text


# --- subscriptions --------------------------------------------------------------------


def test_secret_is_shown_once_after_create_and_after_rotation(ui: TestClient,
                                                               subs: FakeSubscriptions) -> None:
    csrf = sign_in(ui, "manager")
    answer = ui.post("/subscriptions", data=create_form(
        event_types="capaflow.capa.*, *.escalated.v1", tags="pump seals", min_severity="major",
        description="ERP", owner="dev-engineer") | {"csrf_token": csrf})
    assert answer.status_code == 303
    sub_id = next(iter(subs.subs))
    assert answer.headers["location"] == f"/subscriptions/{sub_id}"
    request = sent(subs.fake, "POST", "/v1/subscriptions")[-1]
    assert request.headers["idempotency-key"] == "form-1"
    assert json.loads(request.content) == {
        "channel": "webhook", "target": "https://erp.example/hook", "mode": "immediate",
        "active": True, "description": "ERP", "owner": "dev-engineer",
        "filter": {"event_types": ["capaflow.capa.*", "*.escalated.v1"],
                   "tags": ["pump", "seals"], "min_severity": "major"}}

    first = ui.get(answer.headers["location"])
    assert first.status_code == 200
    assert "whsec_secret1" in first.text and "will not be shown again" in first.text
    assert first.headers["cache-control"] == "no-store"
    again = ui.get(answer.headers["location"])
    assert "whsec_secret1" not in again.text and "will not be shown again" not in again.text
    # No other page and no other session gets it either.
    assert "whsec_" not in ui.get("/subscriptions").text

    rotated = ui.post(f"/subscriptions/{sub_id}/rotate-secret",
                      data={"overlap_seconds": "3600", "csrf_token": csrf})
    assert rotated.status_code == 303
    assert json.loads(sent(subs.fake, "POST", f"/v1/subscriptions/{sub_id}/rotate-secret")[-1]
                      .content) == {"overlap_seconds": 3600}
    shown = ui.get(f"/subscriptions/{sub_id}")
    assert "whsec_secret2" in shown.text and "will not be shown again" in shown.text
    assert "whsec_secret2" not in ui.get(f"/subscriptions/{sub_id}").text


def test_post_without_the_sessions_csrf_token_is_refused(ui: TestClient,
                                                          subs: FakeSubscriptions) -> None:
    sign_in(ui, "manager")
    for data in (create_form(), create_form(csrf_token="forged")):
        answer = ui.post("/subscriptions", data=data)
        assert answer.status_code == 403 and "Form expired" in answer.text
    sub_id = str(uuid.uuid4())
    for path in (f"/subscriptions/{sub_id}/test", f"/subscriptions/{sub_id}/delete",
                 f"/subscriptions/{sub_id}/active", f"/subscriptions/{sub_id}/rotate-secret",
                 f"/subscriptions/{sub_id}/deliveries/{uuid.uuid4()}/retry"):
        assert ui.post(path, data={"confirm": "yes"}).status_code == 403, path
    assert [r for r in subs.fake.requests if r.method != "GET"] == []


def test_api_refusals_are_messages_on_the_form_never_500(ui: TestClient,
                                                          fake_api: FakeApi) -> None:
    csrf = sign_in(ui, "reporter")
    form = ui.get("/subscriptions/new")
    assert form.status_code == 200 and 'name="owner"' not in form.text  # managers only

    fake_api.on("POST", "/v1/subscriptions", problem(
        422, "The request is not valid; see errors for each field.",
        [{"field": "body.filter.event_types.1", "message": "String should match pattern"},
         {"field": "body.mode", "message": "Input should be 'immediate', 'daily' or 'weekly'"}]))
    page = ui.post("/subscriptions", data=create_form(event_types="ok.* bad/type", mode="hourly")
                   | {"csrf_token": csrf})
    assert page.status_code == 422
    assert re.search(r'id="f-event_types"[^>]*aria-invalid="true" '
                     r'aria-describedby="e-event_types"', page.text, re.S)
    assert "Entry 2: Contains characters that are not allowed here." in page.text
    assert "Choose one of &#39;immediate&#39;, &#39;daily&#39; or &#39;weekly&#39;." in page.text
    assert "String should" not in page.text and "Input should" not in page.text
    assert 'id="e-mode"' in page.text
    assert 'value="ok.* bad/type"' in page.text  # what was typed is kept

    # The SSRF guard's refusal names no `errors`, only its title: still on the target.
    fake_api.on("POST", "/v1/subscriptions", problem(
        422, "127.0.0.1 is a loopback address", title="Target refused"))
    page = ui.post("/subscriptions", data=create_form(target="http://127.0.0.1/x")
                   | {"csrf_token": csrf})
    assert page.status_code == 422
    assert re.search(r'id="f-target"[^>]*aria-invalid="true"', page.text, re.S)
    assert "loopback address" in page.text

    fake_api.on("POST", "/v1/subscriptions", problem(
        403, "Only a manager may create subscriptions for someone else."))
    page = ui.post("/subscriptions", data=create_form() | {"csrf_token": csrf})
    assert page.status_code == 403 and 'role="alert"' in page.text
    assert "You are not allowed to do this: Only a manager may" in page.text


# --- lessons learned ------------------------------------------------------------------


def lesson(n: int, **fields: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "capa_id": str(uuid.uuid4()),
            "capa_number": f"CAPA-2026-{n:04d}", "title": f"Seal leak {n}",
            "problem": "Seals leak at 80 C", "root_cause": "Spec omits temperature",
            "cause_category": "materials_supplier", "actions": ["Add temperature to GS-12"],
            "what_to_do_differently": "State the temperature", "tags": ["seals"],
            "published_at": "2026-11-20T10:00:00Z"} | fields


def test_lessons_search_pages_and_link_to_their_capa(ui: TestClient,
                                                      fake_api: FakeApi) -> None:
    first = lesson(1, title=HOSTILE)
    fake_api.on("GET", "/v1/lessons", lambda r: httpx.Response(200, json=(
        {"items": [lesson(2)], "next_cursor": None} if r.url.params.get("cursor")
        else {"items": [first], "next_cursor": "c2"})))
    sign_in(ui, "reporter")
    page = ui.get("/lessons", params={"text": "seal leak", "tag": "seals",
                                      "category": "materials_supplier"})
    assert page.status_code == 200
    asked = sent(fake_api, "GET", "/v1/lessons")[-1].url.params
    assert (asked["text"], asked["tag"], asked["category"]) == ("seal leak", "seals",
                                                               "materials_supplier")
    assert f'href="/capas/{first["capa_id"]}"' in page.text and "CAPA-2026-0001" in page.text
    assert HOSTILE not in page.text
    next_link = re.search(r'href="(/lessons\?[^"]*cursor=c2[^"]*)"', page.text)
    assert next_link and "tag=seals" in next_link.group(1)
    second = ui.get(next_link.group(1).replace("&amp;", "&"))
    assert "CAPA-2026-0002" in second.text and sent(fake_api, "GET", "/v1/lessons")[-1] \
        .url.params["tag"] == "seals"

    fake_api.on("GET", "/v1/lessons", problem(
        422, "bad", [{"field": "query.text", "message": "String should have at most 200"}]))
    refused = ui.get("/lessons", params={"text": "x"})
    assert refused.status_code == 422
    assert re.search(r'id="f-text"[^>]*aria-invalid="true"', refused.text, re.S)


def test_signed_out_pages_ask_for_sign_in(ui: TestClient) -> None:
    for path in ("/dashboard", "/subscriptions", "/subscriptions/new", "/lessons"):
        answer = ui.get(path)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/sign-in")
