"""Similar past lessons in Chromium against the real services (deploy/run.sh: SQLite
with FTS5 + sql bus): two CAPAs closed with lessons, a new one being analysed; the
engineer writes a 5-Whys draft, asks for similar lessons, links the best one
(the draft stays), and a newly reported NC shows the same lesson. Screenshots at
desktop width and at 390 px under var/test-artifacts/similar-lessons/."""

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.loop import Loop
from tests.e2e.web_stack import Ui, shared_ui

SHOTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts" / "similar-lessons"


@pytest.fixture(scope="module")
def ui(default_web_stack: Ui) -> Iterator[Ui]:
    # The session's shared stack (tests/e2e/web_stack.py): records of other
    # files are there too, so this file looks only at its own.
    yield from shared_ui(default_web_stack)


def closed_with_lesson(api: Loop, title: str, problem: str, root_cause: str,
                       lesson: str) -> dict[str, Any]:
    """A CAPA taken through the whole workflow by API and closed with its lesson."""
    capa = api.call("POST", "capa", "/v1/capas", role="engineer",
                    json={"title": title, "severity": "major"}).json()
    path = f"/v1/capas/{capa['id']}"

    def move(to: str, role: str = "engineer", **body: Any) -> None:
        api.call("POST", "capa", f"{path}/transitions", role=role, json={"to": to} | body)

    move("investigating")
    etag = api.call("GET", "capa", f"{path}/root-cause", role="engineer").headers["etag"]
    api.call("PUT", "capa", f"{path}/root-cause", role="engineer", headers={"If-Match": etag},
             json={"status": "submitted", "problem_statement": problem,
                   "whys": [{"why": "Why?", "because": root_cause}] * 3,
                   "root_cause": root_cause, "cause_category": "process",
                   "contributing_factors": []})
    move("action_planned")
    action = api.call("POST", "capa", f"{path}/actions", role="engineer", json={
        "kind": "corrective", "description": lesson, "owner": "dev-engineer",
        "due_date": "2027-01-15"}).json()
    move("implementing")
    api.call("PATCH", "capa", f"{path}/actions/{action['id']}", role="engineer",
             headers={"If-Match": f'"{action["version"]}"'},
             json={"status": "done", "completion_evidence": "Released"})
    move("verifying")
    api.call("PUT", "capa", f"{path}/effectiveness-plan", role="engineer",
             json={"criteria": "No recurrence for 30 days",
                   "check_date": datetime.now(UTC).date().isoformat()})
    api.call("POST", "capa", f"{path}/effectiveness-verifications", role="verifier",
             json={"result": "effective", "evidence": "30 days without recurrence"})
    move("closed", role="manager", lesson={"what_to_do_differently": lesson, "tags": []})
    return dict(capa)


def test_similar_lessons_beside_the_5_whys_and_on_a_new_nc(ui: Ui) -> None:
    from playwright.sync_api import expect

    from tests.e2e.browser import Screenshots, chromium

    gateway = closed_with_lesson(
        ui.api, "Payment gateway timeouts at checkout",
        "Card payments failed with gateway timeouts during the sale",
        "The payment gateway client had no retry budget",
        "Give every payment client a retry budget and a timeout alert")
    dns = closed_with_lesson(
        ui.api, "DNS resolver timeouts", "Internal DNS lookups timed out",
        "A single resolver without a fallback", "Run two resolvers in every site")
    closed_with_lesson(
        ui.api, "Label misprint on cartons", "Cartons shipped with the wrong label",
        "The label template was not version controlled", "Version label templates")
    new = ui.api.call("POST", "capa", "/v1/capas", role="engineer",
                      json={"title": "Incident at peak hours",
                            "severity": "major"}).json()
    ui.api.call("POST", "capa", f"/v1/capas/{new['id']}/transitions", role="engineer",
                json={"to": "investigating"})
    nc = ui.api.call("POST", "nonconformity", "/v1/nonconformities", role="reporter", json={
        "title": "Card payments time out at the gateway", "severity": "minor",
        "source": "support", "description": "Customers see a gateway timeout"}).json()

    # The figures before this test's offers and link: the shared stack may hold
    # other files' lessons, so the test checks what it added.
    before = _suggestions(ui)
    shots = Screenshots(SHOTS)
    base = f"http://127.0.0.1:{ui.api.ports['web']}"
    with chromium() as browser:
        for width, height, suffix in ((1280, 900, "desktop"), (390, 844, "390px")):
            context = browser.new_context(base_url=base,
                                          viewport={"width": width, "height": height})
            context.set_default_timeout(15_000)
            page = context.new_page()
            page.goto("/sign-in")
            page.get_by_label("API key").fill(ui.keys["engineer"])
            page.get_by_role("button", name="Sign in").click()
            page.goto(f"/capas/{new['id']}")
            panel = page.locator("#similar-lessons")
            # Only the title so far (the draft is never saved here): nothing in the
            # past shares its words.
            expect(panel).to_contain_text("No past lesson or root cause shares words")
            page.get_by_label("Problem statement").fill(
                "Card payments time out at the payment gateway during peak sales")
            page.get_by_label("Why 1", exact=True).fill("Why do payments time out?")
            page.get_by_label("Because 1", exact=True).fill(
                "The gateway client retries without a budget")
            page.get_by_role("button", name="Find similar past lessons").click()
            items = panel.locator("li[data-similar]")
            expect(items.first).to_contain_text(gateway["number"])
            expect(panel).to_contain_text(dns["number"])
            assert "Label misprint" not in panel.inner_text()
            if suffix == "desktop":
                shots.take(page, f"capa-similar-{suffix}")
                page.get_by_role("button", name=re.compile(
                    f"^Link to this CAPA: the lesson of {gateway['number']}")).click()
                expect(page.get_by_role("status").first).to_contain_text(
                    f"The lesson of {gateway['number']} is linked to this CAPA.")
                # The focus is back at the lessons (#similar-lessons), not the page body.
                expect(panel.locator("h2, h3").first).to_be_focused()
                # The draft is kept as typed, and the lesson shows as linked.
                expect(page.get_by_label("Because 1", exact=True)).to_have_value(
                    "The gateway client retries without a budget")
                expect(items.first.locator("[data-linked]")).to_be_visible()
            expect(page.locator("[data-linked-lessons]")).to_contain_text(gateway["number"])
            panel.scroll_into_view_if_needed()
            shots.take(page, f"capa-linked-{suffix}")
            # The panel alone, small enough for docs/ui.md.
            panel.screenshot(path=str(SHOTS / f"panel-similar-lessons-{suffix}.png"))
            box = panel.bounding_box()
            assert box is not None and box["x"] + box["width"] <= width + 1
            page.goto(f"/nonconformities/{nc['id']}")
            nc_panel = page.locator("#similar-lessons")
            expect(nc_panel.locator("li").first).to_contain_text(gateway["number"])
            shots.take(page, f"nc-similar-{suffix}")
            nc_panel.screenshot(path=str(SHOTS / f"panel-nc-similar-lessons-{suffix}.png"))
            context.close()
    assert len(shots.taken) == 5 and all(p.stat().st_size > 10_000 for p in shots.taken)
    links = ui.api.call("GET", "capa", f"/v1/capas/{new['id']}/lesson-links").json()
    assert [link["lesson_capa_number"] for link in links] == [gateway["number"]]
    figures = _suggestions(ui)
    assert figures["linked"] - before["linked"] == 1
    assert figures["offered"] - before["offered"] >= 2


def _suggestions(ui: Ui) -> dict[str, int]:
    return dict(ui.api.call("GET", "capa", "/v1/management-review",
                            role="manager").json()["lesson_suggestions"])
