"""The supplier scorecards page: its Until is included (the API gets the next
day's midnight), every column shows on a phone (cards), and any period typed
into it is the page's own message, never a 500."""

import html
import re
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.unit.web.conftest import FakeApi, sign_in

REPORT = {"since": "2026-12-01T00:00:00Z", "until": "2026-12-08T00:00:00Z",
          "items": [{"rank": 1, "supplier_code": "acme-seals", "name": "Acme Seals",
                     "criticality": "high", "nonconformities": 13, "repeat_rate": 0.5,
                     "scars_sent": 2, "median_response_days": 4.5, "on_time_closure": 0.5,
                     "open_items": 3}]}


def _cards(fake_api: FakeApi, answer: httpx.Response | None = None) -> list[httpx.Request]:
    asked: list[httpx.Request] = []

    def cards(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        return answer or httpx.Response(200, json=REPORT)

    fake_api.on("GET", "/v1/suppliers/scorecards", cards)
    return asked


def test_until_is_included_and_the_caption_says_so(ui: TestClient, fake_api: FakeApi) -> None:
    asked = _cards(fake_api)
    sign_in(ui, "reporter")
    page = ui.get("/suppliers/scorecards", params={"since": "2026-12-01", "until": "2026-12-07"})
    assert page.status_code == 200
    assert asked[-1].url.params["since"] == "2026-12-01T00:00:00Z"
    assert asked[-1].url.params["until"] == "2026-12-08T00:00:00Z"  # the 7th included
    caption = re.search(r"<caption>(.*?)</caption>", page.text, re.S)
    assert caption and "2026-12-01 to 2026-12-07, both days included" in caption.group(1)
    assert "Both days included" in page.text


def test_every_column_is_labelled_for_the_stacked_cards(ui: TestClient,
                                                        fake_api: FakeApi) -> None:
    _cards(fake_api)
    sign_in(ui, "reporter")
    page = ui.get("/suppliers/scorecards").text
    assert '<table class="cards' in page
    labels = re.findall(r'data-label="([^"]+)"', page)
    headers = re.findall(r'<th scope="col">([^<]+)</th>', page)
    # Every column but the supplier (the card's title) shows its name on a card.
    assert set(labels) == set(headers) - {"Supplier"}
    assert {"Median response (days)", "On-time closure", "Open at the period's end"} <= set(labels)


def test_a_default_period_ending_now_says_so(ui: TestClient, fake_api: FakeApi) -> None:
    _cards(fake_api, httpx.Response(200, json=REPORT | {
        "since": "2026-09-08T14:03:00.123456Z", "until": "2026-12-07T14:03:00.123456Z"}))
    sign_in(ui, "reporter")
    page = ui.get("/suppliers/scorecards")
    assert "2026-09-08 to 2026-12-07, both days included (up to now)" in html.unescape(page.text)


@pytest.mark.parametrize(("params", "field", "words"), [
    ({"since": "2026-12-08", "until": "2026-12-07"}, "since", "on or before the last day"),
    ({"since": "0001-01-01"}, "since", "from 1900-01-01"),
    ({"until": "9999-12-31"}, "until", "to 9998-12-30"),
    ({"until": "9998-12-31"}, "until", "to 9998-12-30"),  # its next day is past the range
    ({"since": "yesterday"}, "since", "YYYY-MM-DD"),
    ({"until": "2026-02-30"}, "until", "YYYY-MM-DD"),
    ({"since": "2026-12-01T00:00:00Z"}, "since", "YYYY-MM-DD"),
    ({"until": "\u0661\u0669\u0669\u0669-01-01" + "x" * 500}, "until", "YYYY-MM-DD"),
])
def test_a_period_the_page_cannot_use_is_its_own_message(
        ui: TestClient, fake_api: FakeApi, params: dict[str, str], field: str,
        words: str) -> None:
    asked = _cards(fake_api)
    sign_in(ui, "reporter")
    page = ui.get("/suppliers/scorecards", params=params)
    assert page.status_code == 422
    text = html.unescape(page.text)
    assert words in text and "Check the period's dates." in text
    assert f'<p class="error" id="e-{field}">' in text
    assert asked == []  # nothing reached the service


def test_a_period_the_api_finds_backwards_is_a_plain_message(ui: TestClient,
                                                             fake_api: FakeApi) -> None:
    problem: dict[str, Any] = {
        "type": "urn:capaflow:problem:period-not-forward", "title": "Period not forward",
        "status": 422, "detail": "The period must start before it ends (since before until).",
        "errors": [{"field": "query.since", "message": "give a time before 2026-12-07T14:03"}]}
    _cards(fake_api, httpx.Response(422, json=problem))
    sign_in(ui, "reporter")
    page = ui.get("/suppliers/scorecards", params={"since": "2030-01-01"})
    assert page.status_code == 422
    assert "A start after today needs a last day too." in page.text
    assert "since before until" not in page.text
    assert 'value="2030-01-01"' in page.text  # the form keeps what was typed
