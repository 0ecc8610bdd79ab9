"""The guided CAPA page in Chromium against the real services (deploy/run.sh: SQLite
+ sql bus): one CAPA walked from open to closed by an engineer (its owner), a
manager and a verifier, each in their own browser, checking at every stage the
stepper, the "Next: waiting for" sentence and that only the forms the stage and
the person's role allow are on the page. Screenshots of the stepper page at
desktop width and at 390 px go to var/test-artifacts/guided-capa/."""

import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.browser import Screenshots, chromium
from tests.e2e.loop import Loop
from tests.e2e.web_stack import Ui

SHOTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts" / "guided-capa"
# Every form the CAPA page can show that this walk checks for (by its accessible name).
STAGE_FORMS = {"Root-cause analysis", "Revise root-cause analysis", "Plan an action",
               "Plan effectiveness check", "Record effectiveness verification", "Close CAPA",
               "Start investigation", "Mark actions planned", "Start implementing",
               "Start effectiveness check"}


@pytest.fixture(scope="module")
def running(default_web_stack: Ui) -> tuple[Loop, str]:
    # The session's shared stack (tests/e2e/web_stack.py); this walk touches only
    # the CAPA it opens.
    return default_web_stack.api, default_web_stack.base


def forms(page: Page) -> set[str]:
    """The stage forms on the page now, by their accessible names."""
    names = page.locator("form[aria-label]").evaluate_all(
        "forms => forms.map(f => f.getAttribute('aria-label'))")
    return set(names) & STAGE_FORMS


def expect_stage(page: Page, stage: str, waiting: str) -> None:
    expect(page.locator('[aria-current="step"]')).to_have_attribute("data-step", stage)
    expect(page.locator("[data-waiting]")).to_contain_text(waiting)


def test_one_capa_through_its_stages_shows_only_the_allowed_forms(
        running: tuple[Loop, str]) -> None:
    api, base = running
    marker = uuid.uuid4().hex[:6]
    capa = api.call("POST", "capa", "/v1/capas", role="engineer", json={
        "title": f"Gaskets harden on line 3 {marker}", "severity": "major",
        "owner": "dev-engineer"}).json()
    path = f"/capas/{capa['id']}"
    shots = Screenshots(SHOTS)
    with chromium() as browser:
        people = {role: _signed_in(browser, base, api.keys[role])
                  for role in ("engineer", "manager", "verifier")}
        engineer, manager, verifier = (people[r] for r in ("engineer", "manager", "verifier"))

        # Open: the owner starts the investigation; no actions or effectiveness forms.
        engineer.goto(path)
        expect_stage(engineer, "open", "Waiting for dev-engineer to start the investigation")
        assert forms(engineer) == {"Start investigation", "Root-cause analysis"}
        verifier.goto(path)
        assert forms(verifier) == set()
        engineer.get_by_role("button", name="Start investigation").click()
        expect_stage(engineer, "investigating",
                     "Waiting for dev-engineer to submit the root-cause analysis")
        _submit_analysis(engineer)

        # Submitted: read-only with "Revise"; the approval waits for an engineer or manager.
        expect_stage(engineer, "investigating", "to approve the root-cause analysis")
        assert forms(engineer) == {"Revise root-cause analysis", "Mark actions planned"}
        expect(engineer.locator("[data-read-only]")).to_contain_text("PM plan omits")
        for width, height, suffix in ((1280, 900, "desktop"), (390, 844, "390px")):
            engineer.set_viewport_size({"width": width, "height": height})
            engineer.goto(path)
            shots.take(engineer, f"guided-capa-{suffix}")
            assert engineer.evaluate("document.documentElement.scrollWidth") <= width + 1
        engineer.set_viewport_size({"width": 1280, "height": 900})
        engineer.get_by_role("button", name="Revise").click()
        expect(engineer.get_by_role("form", name="Root-cause analysis")).to_be_visible()
        # The focus is at the section the person asked for (ui.js), not the page body.
        expect(engineer.locator("#h-root-cause")).to_be_focused()
        assert "Revise root-cause analysis" not in forms(engineer)
        verifier.goto(path)
        assert forms(verifier) == set()

        # The manager approves; actions and the effectiveness plan are planned now.
        manager.goto(path)
        manager.get_by_role("button", name="Mark actions planned").click()
        expect_stage(manager, "action_planned", "Waiting for dev-engineer to plan the actions")
        engineer.goto(path)
        assert forms(engineer) == {"Plan an action", "Plan effectiveness check"}
        plan = engineer.get_by_role("form", name="Plan an action")
        plan.get_by_label("What will be done").fill("Add gasket checks to the PM plan")
        plan.get_by_label("Due date").fill((datetime.now(UTC).date()
                                            + timedelta(days=20)).isoformat())
        plan.get_by_role("button", name="Plan action").click()
        check_date = (datetime.now(UTC).date() + timedelta(days=30)).isoformat()
        check = engineer.get_by_role("form", name="Plan effectiveness check")
        check.get_by_label("Criteria: what shows the root cause is gone").fill(
            "No hardened gasket on line 3 for 30 days")
        check.get_by_label("Check date").fill(check_date)
        check.get_by_role("button", name="Save effectiveness plan").click()
        engineer.get_by_role("button", name="Start implementing").click()
        expect_stage(engineer, "implementing", "Waiting for dev-engineer to finish 1 action")
        update = engineer.get_by_role("form", name="Update action 1")
        update.get_by_label("New status").select_option("done")
        update.get_by_label("Completion evidence").fill("PM plan rev 8")
        update.get_by_role("button", name="Update action 1").click()
        engineer.get_by_role("button", name="Start effectiveness check").click()
        expect_stage(engineer, "verifying", f"Waiting for the effectiveness check on {check_date}")

        # Verifying ahead of the check date: warned; only a manager gets the reason field;
        # the owner gets no verification form; nobody gets the close form yet.
        assert "Record effectiveness verification" not in forms(engineer)
        verifier.goto(path)
        # No form the API would refuse: the verifier reads when it can be recorded.
        assert forms(verifier) == {"Plan effectiveness check"}
        expect(verifier.locator("[data-verify-refused]")).to_contain_text(
            f"The effectiveness check is planned for {check_date}; the verification can be "
            "recorded from then (a manager may record it earlier with a reason).")
        manager.goto(path)
        assert "Close CAPA" not in forms(manager)
        form = manager.get_by_role("form", name="Record effectiveness verification")
        expect(form).to_contain_text(f"The check is planned for {check_date}")
        form.get_by_label("Evidence").fill("Line trial: 0 hardened gaskets")
        form.get_by_label("Reason to verify before the check date").fill(
            "Line 3 is rebuilt next week; the trial data is conclusive")
        form.get_by_role("button", name="Record verification").click()
        expect(manager.get_by_role("status")).to_contain_text("verification recorded")

        # Effective: the manager closes (warned it is before the check date).
        expect_stage(manager, "verifying", "Waiting for a manager to close the CAPA")
        assert forms(manager) == {"Close CAPA"}
        verifier.goto(path)
        assert forms(verifier) == set()
        close = manager.get_by_role("form", name="Close CAPA")
        expect(close.locator("[data-early-warning]")).to_contain_text(check_date)
        close.get_by_label("Lesson learned: what to do differently").fill(
            f"Gaskets belong in the PM plan ({marker})")
        close.get_by_role("button", name="Close CAPA").click()
        expect_stage(manager, "closed", "Nothing: this CAPA is closed")
        assert manager.locator('[data-step-state="complete"]').count() == 5
        assert forms(manager) == set()

        # The trail says what changed, with the plural right.
        trail = manager.get_by_role("region", name="Audit trail", exact=True)
        expect(trail).to_contain_text("Status: Verifying effectiveness → Closed")
        expect(trail).to_contain_text("Analysis: \u2013 → Submitted")
        expect(trail).to_contain_text("entries)")
        for page in people.values():
            page.context.close()
    assert len(shots.taken) == 2 and all(p.stat().st_size > 10_000 for p in shots.taken)


def _signed_in(browser: Browser, base: str, key: str) -> Page:
    context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto("/")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="My work", exact=True)).to_be_visible()
    return page


def _submit_analysis(page: Page) -> None:
    rca = page.get_by_role("form", name="Root-cause analysis")
    rca.get_by_label("Problem statement").fill("Gaskets harden after 2 weeks at 80 C")
    chain = [("Why do gaskets harden?", "They run hotter than rated"),
             ("Why hotter?", "The line runs at 80 C since the upgrade"),
             ("Why not re-rated?", "Gaskets are not in the PM plan")]
    while rca.locator("[data-why-row]").count() < len(chain):
        rca.get_by_role("button", name="Add a why").click()
    for i, (why, because) in enumerate(chain, start=1):
        rca.get_by_label(f"Why {i}", exact=True).fill(why)
        rca.get_by_label(f"Because {i}", exact=True).fill(because)
    rca.get_by_label("Root cause", exact=True).fill("The PM plan omits gaskets")
    rca.get_by_label("Cause category").select_option("process")
    rca.get_by_role("button", name="Submit root-cause analysis").click()
    expect(page.get_by_role("status")).to_contain_text("submitted")
    assert re.search(r"/capas/", page.url)
