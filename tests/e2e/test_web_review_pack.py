"""The review pack page and the dashboard's objectives panel in Chromium against
the real services (deploy/run.sh: SQLite + sql bus): a manager chooses a period,
downloads the PDF, records the meeting with a decision that opens a CAPA, and
finds that CAPA linked back. Screenshots at desktop width and at 390 px go to
var/test-artifacts/review-pack/ (docs/management-review.md shows two of them)."""

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.browser import Screenshots, chromium
from tests.e2e.web_stack import Ui, shared_ui

SHOTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts" / "review-pack"


@pytest.fixture(scope="module")
def ui(default_web_stack: Ui) -> Iterator[Ui]:
    # The session's shared stack (tests/e2e/web_stack.py): records of other
    # files are there too, so this file looks only at its own.
    yield from shared_ui(default_web_stack)


def test_a_manager_downloads_the_pack_and_records_the_meeting(ui: Ui) -> None:
    marker = uuid.uuid4().hex[:6]
    today = datetime.now(UTC).date()
    late = ui.api.call("POST", "capa", "/v1/capas", json={
        "title": f"Label printer drift {marker}", "severity": "major",
        "due_date": (today - timedelta(days=3)).isoformat()}).json()
    ui.api.call("POST", "capa", "/v1/objectives", json={
        "title": "No overdue CAPAs", "metric": "overdue_capas", "target": 0,
        "deadline": (today + timedelta(days=90)).isoformat()})
    ui.api.call("POST", "capa", "/v1/objectives", json={
        "title": "Effective fixes", "metric": "effectiveness_rate", "target": 0.9,
        "deadline": (today + timedelta(days=180)).isoformat()})
    shots = Screenshots(SHOTS)
    base = ui.base
    with chromium() as browser:
        for width, height, suffix in ((1280, 900, "desktop"), (390, 844, "390px")):
            context = browser.new_context(base_url=base, accept_downloads=True,
                                          viewport={"width": width, "height": height})
            context.set_default_timeout(15_000)
            page = context.new_page()
            page.goto("/")
            page.get_by_label("API key").fill(ui.keys["manager"])
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("status")).to_contain_text("Signed in as")

            page.goto("/dashboard")
            panel = page.locator("section.objectives")
            expect(panel.locator("[data-state]").first).to_be_visible()
            expect(panel.locator('tr:has-text("No overdue CAPAs") [data-state]')) \
                .to_have_attribute("data-state", "off_track")
            panel.scroll_into_view_if_needed()
            shots.take(page, f"dashboard-objectives-{suffix}")

            page.goto("/review-pack")
            page.get_by_label("From (date)").fill((today - timedelta(days=30)).isoformat())
            page.get_by_label("To (date, inclusive)").fill(today.isoformat())
            page.get_by_role("button", name="Show pack").click()
            expect(page.locator('[data-figure="opened_in_period"] td').first) \
                .not_to_have_text("0")
            expect(page.get_by_role("heading", name=re.compile("^Pack "))).to_be_visible()
            with page.expect_download() as download:
                page.get_by_role("link", name="Download PDF").click()
            pdf = Path(download.value.path()).read_bytes()
            assert pdf.startswith(b"%PDF") and len(pdf) > 2000
            with page.expect_download() as download:
                page.get_by_role("link", name="Download CSV").click()
            lines = Path(download.value.path()).read_text().splitlines()
            # The file covers the period the page shows, not the API's default.
            assert lines[1] == (f"from,{(today - timedelta(days=30)).isoformat()},"
                                f"to (inclusive),{today.isoformat()}")
            assert page.evaluate("document.documentElement.scrollWidth") <= width + 1
            shots.take(page, f"review-pack-{suffix}")
            if suffix != "desktop":
                context.close()
                continue

            sha = page.locator("[data-pack-sha256]").inner_text()
            page.get_by_label("Attendees").fill("dev-manager, ops-lead")
            decision = page.locator("fieldset.decision").first
            decision.get_by_label("Decision").fill(f"Stop label drift on line 3 {marker}")
            decision.get_by_label("Owner").fill("ops-lead")
            decision.get_by_label("Due date").fill((today + timedelta(days=30)).isoformat())
            decision.get_by_label("Start now").select_option("capa")
            decision.get_by_label("New CAPA's title").fill(f"Label drift on line 3 {marker}")
            second = page.locator("fieldset.decision").nth(1)
            second.get_by_label("Decision").fill("Calibrate the printer weekly")
            second.get_by_label("Owner").fill("dev-engineer")
            second.get_by_label("Due date").fill((today + timedelta(days=14)).isoformat())
            second.get_by_label("Start now").select_option("action")
            second.get_by_label("CAPA for the action").select_option(late["id"])
            page.get_by_role("button", name="Record meeting").click()
            expect(page.get_by_role("status")).to_contain_text("recorded with 2 decisions")
            recorded = page.locator("tr[data-review]").first
            expect(recorded).to_contain_text(sha[:12])
            shots.take(page, f"review-recorded-{suffix}")
            recorded.get_by_role("link", name=re.compile(r"^CAPA-\d{4}-\d+ opened$")).click()
            opened = re.compile(f"Label drift on line 3 {marker}")
            expect(page.get_by_role("heading", name=opened)).to_be_visible()
            # The CAPA names the decision and the meeting; the meeting has its page.
            banner = page.locator("[data-opened-by-review]")
            expect(banner).to_contain_text(
                f"Opened by a decision of the management review of {today.isoformat()}")
            expect(banner).to_contain_text(f"Stop label drift on line 3 {marker}")
            expect(page.locator("#facts")).to_contain_text(
                f"Decided at the management review of {today.isoformat()}")
            banner.get_by_role("link").click()
            expect(page.get_by_role("heading", level=1)).to_have_text(
                f"Management review of {today.isoformat()}")
            expect(page.locator("[data-pack-sha256]")).to_have_text(sha)
            page.get_by_role("link", name=re.compile(r"^CAPA-\d{4}-\d+$")).nth(1).click()
            expect(page.locator("tr[data-action] [data-added-by-review]")).to_contain_text(
                "Calibrate the printer weekly")

            # Define an objective in the UI with a metric the service offers.
            page.goto("/objectives")
            page.get_by_label("Title").fill(f"Few repeats {marker}")
            page.get_by_label("Metric").select_option("reopen_rate")
            page.get_by_label("Target").fill("0.1")
            page.get_by_label("Deadline").fill((today + timedelta(days=60)).isoformat())
            page.get_by_role("button", name="Define objective").click()
            expect(page.get_by_role("status")).to_contain_text(f"Few repeats {marker}")
            expect(page.locator("table.objective-table")).to_contain_text(
                f"Few repeats {marker}")
            context.close()
    reviews = ui.api.call("GET", "capa", "/v1/management-reviews").json()["items"]
    # The meeting recorded here, by its pack's hash (the shared stack may hold others).
    [meeting] = [r for r in reviews if r["pack"]["sha256"] == sha]
    assert [d["capa_id"] for d in meeting["decisions"]][1] == late["id"]
    actions = ui.api.call("GET", "capa", f"/v1/capas/{late['id']}/actions").json()
    assert [a["description"] for a in actions] == ["Calibrate the printer weekly"]
    assert all(p.stat().st_size > 10_000 for p in shots.taken)
