"""The management review's figures (issue 16 part 4) against a fake API: the previous
period beside each figure with its change in words, every count linked to its list,
and each link asking the list API for exactly the filters the figure was counted
with; the period rules (pure) at their edges."""

import re
from datetime import UTC, date, datetime, timedelta
from html import unescape
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from services.web.pages.review_period import Period, change, day_filter, read_period
from tests.unit.web.conftest import FakeApi, sign_in
from tests.unit.web.fake_notifications import sent
from tests.unit.web.test_manager_pages import REVIEW, WEEKLY, svgs

TODAY = date(2026, 12, 7)
NONE = "\u2013"  # an en dash: no value
OLDEST_NC = "5f1c1a52-5a0e-4c47-9d0a-6d8b3f1a0c11"
OLDEST_CAPA = "0b6c4f9e-1d7e-4b8a-9a51-3c2e7a9f0d22"


def nc_review(reported: int, critical: int, untriaged: int = 7) -> dict[str, Any]:
    return {"since": "x", "until": "y", "as_of": "z", "reported_in_period": reported,
            "by_severity": {"critical": critical, "major": 1, "minor": reported - critical - 1,
                            "observation": 0},
            "by_status": {"reported": 2, "accepted": reported - 2, "rejected": 0,
                          "duplicate": 0, "closed": 0},
            "untriaged": {"total": untriaged, "oldest_id": OLDEST_NC,
                          "oldest_number": "NC-2026-00003",
                          "oldest_reported_at": "2026-10-01T00:00:00Z", "oldest_age_days": 67}}


CAPA_NOW = REVIEW | {"opened_in_period": 10, "closed_in_period": 4, "reopen_rate": 0.25,
                     "overdue_actions": {"total": 4, "oldest": {
                         "id": "a", "capa_id": OLDEST_CAPA, "capa_number": "CAPA-2026-00009",
                         "description": "Replace the gasket spec", "owner": "qa",
                         "due_date": "2026-11-01", "days_overdue": 36}}}
CAPA_BEFORE = CAPA_NOW | {"opened_in_period": 6, "closed_in_period": 4, "reopen_rate": 0.5,
                          "effectiveness_rate": None}


@pytest.fixture
def review_api(fake_api: FakeApi) -> FakeApi:
    """Both services answer by period: the current one is the one starting 2026-06-01."""
    def by_period(now: dict[str, Any], before: dict[str, Any]) -> Any:
        return lambda request: httpx.Response(
            200, json=now if request.url.params["since"] == "2026-06-01" else before)

    fake_api.on("GET", "/v1/management-review", by_period(CAPA_NOW, CAPA_BEFORE))
    fake_api.on("GET", "/v1/reports/management-review",
                by_period(nc_review(12, 3), nc_review(9, 5)))
    fake_api.on("GET", "/v1/reports/nonconformities-per-week", httpx.Response(200, json=WEEKLY))
    return fake_api


def cells(page: str, key: str) -> dict[str, str]:
    """The figure's value, previous value and change cells, as text and links."""
    out = {}
    for what in ("figure", "previous", "change"):
        found = re.search(rf'<td data-{what}="{key}">(.*?)</td>', page, re.S)
        if found:
            out[what] = found.group(1)
    return out


def href(cell: str) -> str:
    found = re.search(r'href="([^"]+)"', cell)
    assert found, cell
    return unescape(found.group(1))


def text(cell: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", cell)).strip()


@pytest.mark.requirement("cfr820-100a7")
def test_each_figure_beside_the_previous_period_with_the_change_in_words(
        ui: TestClient, review_api: FakeApi) -> None:
    sign_in(ui, "manager")
    page = ui.get("/dashboard", params={"since": "2026-06-01", "until": "2026-06-30"})
    assert page.status_code == 200, page.text
    # 30 days, and the 30 days before them.
    asked = {tuple(r.url.params.items()) for r in sent(review_api, "GET",
                                                        "/v1/reports/management-review")}
    assert asked == {(("since", "2026-06-01"), ("until", "2026-07-01")),
                     (("since", "2026-05-02"), ("until", "2026-06-01"))}
    assert "Previous period: 02 May 2026 to 31 May 2026" in page.text

    critical = cells(page.text, "nc_severity_critical")
    assert text(critical["figure"]) == "3" and text(critical["previous"]) == "5"
    # The arrow is for the eye; a screen reader hears the same in words.
    assert '<span aria-hidden="true">↓ 2</span>' in critical["change"]
    assert '<span class="visually-hidden">down 2 from 5</span>' in critical["change"]
    assert 'aria-label="Severity critical: 3, show the list"' in critical["figure"]
    opened = cells(page.text, "opened_in_period")
    assert "up 4 from 6" in opened["change"] and "↑ 4" in opened["change"]
    assert "no change from 4" in cells(page.text, "closed_in_period")["change"]
    assert "down 25.0 points from 50.0 %" in cells(page.text, "reopen_rate")["change"]
    # A rate with no checks in one period has nothing to compare.
    assert text(cells(page.text, "effectiveness_rate")["change"]) == NONE

    # Counts as of now: one value, the oldest item named and linked.
    backlog = cells(page.text, "nc_untriaged")
    assert text(backlog["figure"]) == "7" and "previous" not in backlog
    assert f'href="/nonconformities/{OLDEST_NC}"' in page.text
    assert "NC-2026-00003, reported 67 days ago" in page.text
    overdue = cells(page.text, "overdue_actions")
    assert text(overdue["figure"]) == "4"
    assert f'href="/capas/{OLDEST_CAPA}#actions"' in page.text
    assert "CAPA-2026-00009, due 2026-11-01 (36 days late)" in page.text
    # One panel per subject, each named (room for more panels beside them).
    assert re.findall(r'data-panel="(\w+)"', page.text) == ["nonconformities", "capas",
                                                           "actions"]
    # A Pareto bar's count leads to the board of the CAPAs opened in the period with it.
    bar = re.search(r'<td data-pareto="process">(.*?)</td>\s*<td>[^<]*</td>\s*<td>(.*?)</td>',
                    page.text, re.S)
    assert bar and text(bar.group(1)) == "6" and text(bar.group(2)) == "6"
    assert dict(parse_qsl(urlsplit(href(bar.group(1))).query)) == {
        "finished": "1", "cause_category": "process", "opened_from": "2026-06-01",
        "opened_to": "2026-06-30"}
    assert dict(parse_qsl(urlsplit(href(bar.group(2))).query))["opened_to"] == "2026-05-31"
    # What the dashboard showed before stays: the charts and NCs per week by source.
    assert set(svgs(page.text)) == {"chart-causes", "chart-aging", "chart-sources",
                                    "chart-weekly"}


# (figure, list page, the list API's path, the filters the figure was counted with)
LINKS = [
    ("nc_reported", "/v1/nonconformities", {}),
    ("nc_severity_critical", "/v1/nonconformities", {"severity": "critical"}),
    ("nc_status_accepted", "/v1/nonconformities", {"status": "accepted"}),
]


@pytest.mark.parametrize("key, api_path, filters", LINKS)
def test_a_period_link_asks_the_list_for_the_figures_own_period(
        ui: TestClient, review_api: FakeApi, key: str, api_path: str,
        filters: dict[str, str]) -> None:
    review_api.on("GET", api_path, httpx.Response(200, json={"items": [], "total": 3,
                                                             "next_cursor": None}))
    sign_in(ui, "manager")
    page = ui.get("/dashboard", params={"since": "2026-06-01", "until": "2026-06-30"})
    for column, since, until in (("figure", "2026-06-01", "2026-07-01"),
                                 ("previous", "2026-05-02", "2026-06-01")):
        link = href(cells(page.text, key)[column])
        listed = ui.get(link)
        assert listed.status_code == 200, listed.text
        asked = dict(sent(review_api, "GET", api_path)[-1].url.params)
        assert {k: v for k, v in asked.items() if k not in ("limit", "sort")} == \
            filters | {"since": since, "until": until}
        assert 'data-total="3"' in listed.text
        # The list page shows the period it is filtered by (inclusive last day).
        shown = dict(parse_qsl(urlsplit(link).query))
        assert f'value="{shown["until"]}"' in listed.text


def test_the_capa_and_action_links_ask_for_the_same_filters(ui: TestClient,
                                                           review_api: FakeApi) -> None:
    review_api.on("GET", "/v1/capas", httpx.Response(200, json={"items": [], "total": 10,
                                                                "next_cursor": None}))
    review_api.on("GET", "/v1/actions", httpx.Response(200, json={"items": [], "total": 4,
                                                                  "next_cursor": None}))
    review_api.on("GET", "/v1/nonconformities", httpx.Response(200, json={
        "items": [], "total": 7, "next_cursor": None}))
    sign_in(ui, "manager")
    page = ui.get("/dashboard", params={"since": "2026-06-01", "until": "2026-06-30"})

    def follow(key: str, api_path: str) -> dict[str, Any]:
        listed = ui.get(href(cells(page.text, key)["figure"]))
        assert listed.status_code == 200, listed.text
        request = sent(review_api, "GET", api_path)[-1]
        return {k: request.url.params.get_list(k) if k == "status" else v
                for k, v in request.url.params.items()}

    every_state = ["open", "investigating", "action_planned", "implementing", "verifying",
                   "closed", "cancelled"]
    opened = follow("opened_in_period", "/v1/capas")
    assert (opened["opened_since"], opened["opened_until"]) == ("2026-06-01", "2026-07-01")
    assert opened["status"] == every_state
    closed = follow("closed_in_period", "/v1/capas")
    assert (closed["closed_since"], closed["closed_until"]) == ("2026-06-01", "2026-07-01")
    assert closed["status"] == every_state
    assert follow("overdue", "/v1/capas")["overdue"] == "true"
    assert "overdue" not in follow("open_total", "/v1/capas")
    actions = follow("overdue_actions", "/v1/actions")
    assert {k: v for k, v in actions.items() if k != "limit"} == {"overdue": "true"}
    backlog = ui.get(href(cells(page.text, "nc_untriaged")["figure"]))
    assert backlog.status_code == 200 and 'data-total="7"' in backlog.text
    asked = sent(review_api, "GET", "/v1/nonconformities")[-1].url.params
    assert (asked["status"], asked["sort"]) == ("reported", "created_at")


def test_one_service_down_empties_its_panels_only(ui: TestClient, review_api: FakeApi) -> None:
    review_api.on("GET", "/v1/reports/management-review",
                  httpx.Response(503, json={"title": "Unavailable"}))
    sign_in(ui, "engineer")
    page = ui.get("/dashboard")
    assert page.status_code == 200
    assert re.search(r'id="panel-nonconformities".*?These figures are not available', page.text,
                     re.S)
    assert "nc_severity_critical" not in page.text
    assert 'data-figure="overdue_actions"' in page.text


def test_a_previous_period_that_fails_leaves_a_dash(ui: TestClient, review_api: FakeApi) -> None:
    def only_now(request: httpx.Request) -> httpx.Response:
        if request.url.params["since"] == "2026-06-01":
            return httpx.Response(200, json=nc_review(12, 3))
        return httpx.Response(503, json={"title": "Unavailable"})

    review_api.on("GET", "/v1/reports/management-review", only_now)
    sign_in(ui, "manager")
    page = ui.get("/dashboard", params={"since": "2026-06-01", "until": "2026-06-30"})
    critical = cells(page.text, "nc_severity_critical")
    assert text(critical["figure"]) == "3"
    assert text(critical["previous"]) == NONE and text(critical["change"]) == NONE


def test_lists_drop_unreadable_days(ui: TestClient, fake_api: FakeApi) -> None:
    fake_api.on("GET", "/v1/nonconformities", httpx.Response(200, json={
        "items": [], "total": 0, "next_cursor": None}))
    sign_in(ui, "manager")
    for bad in ("2026-02-30", "9999-12-31", "1899-12-31", "<b>"):
        page = ui.get("/nonconformities", params={"since": bad, "until": bad})
        assert page.status_code == 200
        asked = sent(fake_api, "GET", "/v1/nonconformities")[-1].url.params
        assert "since" not in asked and "until" not in asked


# --- the period rules ------------------------------------------------------------------


def test_default_period_is_the_365_days_up_to_today_and_the_365_before() -> None:
    period, errors = read_period("", "", today=TODAY)
    assert not errors
    assert (period.since, period.until, period.days) == (date(2025, 12, 8), date(2026, 12, 8),
                                                         365)
    assert period.previous() == Period(date(2024, 12, 8), date(2025, 12, 8))


def test_one_day_period_and_the_day_before() -> None:
    period, errors = read_period("2026-03-01", "2026-03-01", today=TODAY)
    assert not errors and period.days == 1 and period.label() == "01 Mar 2026"
    assert period.api() == {"since": "2026-03-01", "until": "2026-03-02"}
    assert period.previous() == Period(date(2026, 2, 28), date(2026, 3, 1))


def test_52_weeks_compare_with_the_52_weeks_before() -> None:
    period, _ = read_period("2025-12-08", "2026-12-06", today=TODAY)
    assert period.days == 364
    before = period.previous()
    assert before is not None and before.days == 364 and before.until == period.since
    assert before.since == date(2024, 12, 9) and before.since.weekday() == period.since.weekday()


def test_a_period_from_the_first_day_has_no_previous_period() -> None:
    first, _ = read_period("1900-01-01", "1900-01-10", today=TODAY)
    assert first.previous() is None
    # Exactly room for one: the previous one starts on the first day.
    fits, _ = read_period("1900-01-11", "1900-01-20", today=TODAY)
    assert fits.previous() == Period(date(1900, 1, 1), date(1900, 1, 11))
    # Only an end near the first day: the period starts on the first day, not before.
    early, errors = read_period("", "1900-06-01", today=TODAY)
    assert not errors and early.since == date(1900, 1, 1) and early.previous() is None


@pytest.mark.parametrize("since, until, field", [
    ("2026-13-01", "", "since"), ("", "31.12.2026", "until"), ("2026-07-01", "2026-06-30", "since"),
    ("1899-12-31", "", "since"), ("", "9998-12-31", "until"), ("", "9999-12-31", "until")])
def test_unreadable_periods_name_their_field_and_fall_back(since: str, until: str,
                                                           field: str) -> None:
    period, errors = read_period(since, until, today=TODAY)
    assert set(errors) == {field}
    assert period == read_period("", "", today=TODAY)[0]


def test_change_in_words() -> None:
    assert change(3, 5) is not None and change(3, 5).words == "down 2 from 5"  # type: ignore[union-attr]
    up = change(7, 0)
    assert up is not None and (up.arrow, up.amount, up.words) == ("↑", "7", "up 7 from 0")
    same = change(4, 4)
    assert same is not None and (same.arrow, same.words) == ("=", "no change from 4")
    rate = change(0.8, 0.75, "rate")
    assert rate is not None and rate.words == "up 5.0 points from 75.0 %"
    days = change(30.0, 41.5, "days")
    assert days is not None and days.words == "down 11.5 days from 41.5"
    assert change(None, 3) is None and change(3, None) is None


def test_day_filter() -> None:
    assert day_filter("2026-01-31") == "2026-01-31"
    assert day_filter(" 2026-01-31T10:00") == "2026-01-31"
    for bad in (None, "", "2026-02-30", "9998-12-31", "1899-12-31", "x"):
        assert day_filter(bad) is None


def test_today_is_taken_in_utc() -> None:
    # The dashboard reads "today" in UTC: the services' days are UTC days.
    assert read_period("", "", today=datetime.now(UTC).date())[0].last_day == \
        datetime.now(UTC).date()
    assert timedelta(days=365) == read_period("", "", today=TODAY)[0].until - \
        read_period("", "", today=TODAY)[0].since


# --- the lists the figures lead to ------------------------------------------------------


def test_the_actions_list_filters_pages_and_escapes(ui: TestClient, fake_api: FakeApi) -> None:
    item = {"id": "a1", "capa_id": OLDEST_CAPA, "capa_number": "CAPA-2026-00009",
            "capa_title": "Seal leak", "kind": "corrective", "description": "<b>spec</b>",
            "owner": "qa", "due_date": "2026-11-01", "status": "in_progress", "overdue": True}
    fake_api.on("GET", "/v1/actions", lambda request: httpx.Response(200, json={
        "items": [item], "total": 51, "next_cursor": None if "cursor" in request.url.params
        else "c2"}))
    sign_in(ui, "verifier")
    page = ui.get("/actions", params={"overdue": "1", "unfinished": "1", "who": "mine",
                                      "owner": "qa", "extra": "x"})
    assert page.status_code == 200
    asked = dict(sent(fake_api, "GET", "/v1/actions")[-1].url.params)
    assert asked == {"limit": "50", "overdue": "true", "open": "true", "owner": "qa",
                     "mine": "true"}
    assert 'data-total="51"' in page.text and "51 actions" in page.text
    assert "&lt;b&gt;spec&lt;/b&gt;" in page.text and "<b>spec</b>" not in page.text
    assert f'href="/capas/{OLDEST_CAPA}#actions"' in page.text
    assert "Corrective action" in page.text and "in progress" in page.text
    nxt = re.search(r'href="(/actions\?[^"]+)" rel="next"', page.text)
    assert nxt and "cursor=c2" in nxt.group(1) and "overdue=1" in nxt.group(1)
    # Unknown filter values are dropped, not sent on.
    ui.get("/actions", params={"who": "unassigned", "overdue": "yes"})
    assert dict(sent(fake_api, "GET", "/v1/actions")[-1].url.params) == {"limit": "50"}


def test_the_board_counts_and_shows_finished_capas_for_a_closing_period(
        ui: TestClient, fake_api: FakeApi) -> None:
    fake_api.on("GET", "/v1/capas", httpx.Response(200, json={"items": [], "total": 4,
                                                              "next_cursor": None}))
    sign_in(ui, "manager")
    page = ui.get("/capas", params={"closed_from": "2026-06-01", "closed_to": "2026-06-30",
                                    "opened_to": "bad"})
    assert page.status_code == 200 and 'data-total="4"' in page.text
    asked = sent(fake_api, "GET", "/v1/capas")[-1].url.params
    assert (asked["closed_since"], asked["closed_until"]) == ("2026-06-01", "2026-07-01")
    assert "closed" in asked.get_list("status") and "opened_until" not in asked
    assert 'value="2026-06-30"' in page.text
