"""Review decisions linked both ways: the CAPA page names the meeting and decision that
opened it (or added an action), the trail entry reads with them, and a meeting has a
page of its own linking to what its decisions opened."""

from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from tests.unit.web.conftest import FakeApi as RouteApi
from tests.unit.web.conftest import sign_in
from tests.unit.web.fake_api import FakeApi, capa, ui_as
from tests.unit.web.test_review_pages import PACK

REVIEW_ID = "4e71e700-0000-4000-8000-000000000001"
HOSTILE = '<img src=x onerror="alert(1)">'


def meeting(**fields: Any) -> dict[str, Any]:
    return {"id": REVIEW_ID, "held_on": "2026-11-20",
            "attendees": ["quality-manager", "Anna Berg (external auditor)"],
            "pack": {"since": "2025-11-20T00:00:00Z", "until": "2026-11-20T00:00:00Z",
                     "sha256": "ab" * 32},
            "notes": None, "recorded_by": "test-manager",
            "recorded_at": "2026-11-20T15:00:00Z", "decisions": []} | fields


def linked(sequence: int, **after: Any) -> dict[str, Any]:
    return {"sequence": sequence, "at": "2026-11-20T15:00:00Z", "actor": "test-manager",
            "action": "review_decision_linked", "before": None,
            "after": {"review_id": REVIEW_ID, "decision_id": "d1"} | after,
            "reason": None, "changes": []}


async def test_a_capa_opened_by_a_decision_names_the_meeting_and_the_decision(
        tmp_path: Path) -> None:
    fake = FakeApi()
    item = capa(source="management_review")
    fake.capas[item["id"]] = item
    fake.trails[item["id"]] = [linked(2, decision=HOSTILE, held_on="2026-11-20")]
    async with ui_as("reporter", fake, tmp_path) as ui:
        page = (await ui.get(f"/capas/{item['id']}")).text
    assert "Opened by a decision of <a href=\"/review-meetings/" + REVIEW_ID + \
        "\">the management review of 2026-11-20</a>" in page
    assert HOSTILE not in page and "&lt;img src=x" in page
    # The trail entry reads with the meeting and the decision, the stored entry unchanged.
    trail = page.split('id="h-trail"')[1]
    assert "Linked to a decision of" in trail and "review decision linked" not in trail
    # The date was in the entry: no need to read the meeting.
    assert not any("management-reviews" in r.url.path for r in fake.requests)


async def test_an_entry_without_the_date_reads_it_from_the_meeting(tmp_path: Path) -> None:
    fake = FakeApi()
    item = capa()
    fake.capas[item["id"]] = item
    fake.reviews[REVIEW_ID] = meeting(held_on="2026-10-02")
    fake.trails[item["id"]] = [linked(3, decision="Inspect labels", action_id="a1")]
    fake.actions[item["id"]] = [{
        "id": "a1", "kind": "preventive", "description": "Inspect 5 labels per lot",
        "owner": "qa-lead", "due_date": "2026-12-20", "status": "planned", "overdue": False,
        "completion_evidence": None, "completed_by": None, "completed_at": None,
        "attachments": []}]
    async with ui_as("reporter", fake, tmp_path) as ui:
        page = (await ui.get(f"/capas/{item['id']}")).text
    assert "Opened by a decision" not in page  # it added an action, it opened nothing
    action = page.split('data-action="a1"')[1].split("</tr>")[0]
    assert "data-added-by-review" in action
    assert "the management review of 2026-10-02</a>: “Inspect labels”" in action


def test_a_meeting_has_a_page_linking_to_what_its_decisions_opened(
        ui: TestClient, fake_api: RouteApi) -> None:
    decisions = [
        {"id": "d1", "sequence": 1, "text": HOSTILE, "owner": "ops-lead",
         "due_date": "2026-12-20", "capa_id": "c1", "capa_number": "CAPA-2026-00007",
         "action_id": None},
        {"id": "d2", "sequence": 2, "text": "Inspect labels", "owner": "qa-lead",
         "due_date": "2026-12-20", "capa_id": "c2", "capa_number": "CAPA-2026-00002",
         "action_id": "a1"},
        {"id": "d3", "sequence": 3, "text": "Budget a second supplier", "owner": "ops-lead",
         "due_date": "2026-12-20", "capa_id": None, "capa_number": None, "action_id": None}]
    fake_api.on("GET", f"/v1/management-reviews/{REVIEW_ID}", httpx.Response(
        200, json=meeting(decisions=decisions)))
    sign_in(ui, "reporter")
    page = ui.get(f"/review-meetings/{REVIEW_ID}")
    assert page.status_code == 200, page.text
    text = page.text
    assert "<h1>Management review of 2026-11-20</h1>" in text
    assert "Anna Berg (external auditor)" in text
    assert "2025-11-20 to 2026-11-19 (both days included)" in text and "ab" * 32 in text
    assert HOSTILE not in text and "&lt;img src=x" in text
    assert 'Opened <a href="/capas/c1">CAPA-2026-00007</a>' in text
    assert 'Added an action to <a href="/capas/c2#actions">CAPA-2026-00002</a>' in text
    assert "Nothing opened from it" in text
    assert ui.get("/review-meetings/not-a-uuid").status_code == 404


def test_the_recorded_reviews_link_to_their_meeting_pages(
        ui: TestClient, fake_api: RouteApi) -> None:
    fake_api.on("GET", "/v1/management-review/pack", httpx.Response(200, json=PACK))
    fake_api.on("GET", "/v1/management-reviews", httpx.Response(200, json={
        "items": [meeting()], "next_cursor": None}))
    sign_in(ui, "manager")
    page = ui.get("/review-pack")
    assert f'<a href="/review-meetings/{REVIEW_ID}">2026-11-20</a>' in page.text
