"""The management review against the real services (deploy/run.sh: SQLite + sql
bus): every number on the dashboard that links to a list leads to a list with
exactly that many rows (its total), the previous period is asked and shown, and
Chromium screenshots of the dashboard at desktop width and at 390 px."""

import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path

import pytest

from tests.e2e.loop import poll
from tests.e2e.test_run_services import services_running
from tests.e2e.web_client import WebClient
from tests.e2e.web_stack import Ui

SHOTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts" / "review"
LINKED = re.compile(r'<td data-(figure|previous|pareto)="(\w+)"><a href="([^"]+)"[^>]*>'
                    r'([^<]+)</a>')
TOTAL = re.compile(r'data-total="(\d+)"')


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ui]:
    tmp = tmp_path_factory.mktemp("review")
    with services_running({"BUS": "sql"}, tmp, web=True) as ports:
        creds = json.loads((Path(tmp) / "var" / "dev-credentials.json").read_text())
        running = Ui(ports, creds["api_keys"])
        try:
            _seed(running)
            yield running
        finally:
            running.close()


def _seed(ui: Ui) -> None:
    """NCs of every severity (the critical and major ones escalate to CAPAs), two
    triaged, and actions of which two are overdue."""
    marker = uuid.uuid4().hex[:6]
    ncs = [ui.api.call("POST", "nonconformity", "/v1/nonconformities", role="reporter",
                       json={"title": f"Label printer {marker} {n}", "severity": severity,
                             "source": source}).json()
           for n, (severity, source) in enumerate([
               ("critical", "support"), ("major", "monitoring"), ("minor", "support"),
               ("minor", "audit"), ("observation", "support"), ("minor", "customer")])]
    for nc, decision in ((ncs[2], "accept"), (ncs[3], "reject")):
        ui.api.call("POST", "nonconformity", f"/v1/nonconformities/{nc['id']}/triage",
                    role="engineer", headers={"If-Match": f'"{nc["version"]}"'},
                    json={"decision": decision, "reason": "Seen on line 2"})
    capas = poll(lambda: (items := ui.api.call("GET", "capa", "/v1/capas").json()["items"])
                 and len(items) >= 2 and items, message="two escalated CAPAs")
    today = datetime.now(UTC).date()
    for capa, days in ((capas[0], -20), (capas[0], -3), (capas[1], 10)):
        ui.api.call("POST", "capa", f"/v1/capas/{capa['id']}/actions", role="engineer", json={
            "kind": "corrective", "description": f"Recalibrate the printer ({days} days)",
            "owner": "dev-engineer", "due_date": (today + timedelta(days=days)).isoformat()})


def _total(person: WebClient, link: str) -> int:
    page = person.get(unescape(link))
    assert page.status_code == 200, (link, page.text[:2000])
    found = TOTAL.search(page.text)
    assert found, (link, page.text[:2000])
    return int(found.group(1))


@pytest.mark.requirement("cfr820-100a7")
def test_every_linked_figure_is_the_total_of_its_list(ui: Ui) -> None:
    manager = ui.person("manager")
    review = manager.get("/dashboard")
    assert review.status_code == 200, review.text[:2000]
    linked = LINKED.findall(review.text)
    keys = {key for column, key, _, _ in linked if column == "figure"}
    assert {"nc_reported", "nc_severity_critical", "nc_status_accepted", "nc_untriaged",
            "opened_in_period", "closed_in_period", "open_total", "overdue",
            "overdue_actions"} <= keys
    # The Pareto of sources: the escalated NCs' sources, each bar linked.
    assert {"support", "monitoring"} <= {key for column, key, _, _ in linked
                                         if column == "pareto"}
    for column, key, link, shown in linked:
        if shown.strip() == "\u2013":  # an en dash: no value (a rate of nothing)
            continue
        if key in ("median_days_to_close", "reopen_rate"):
            continue  # not counts: they link to the CAPAs closed in the period
        assert _total(manager, link) == int(shown), (column, key, link)

    def figure(key: str) -> int:
        found = re.search(rf'data-figure="{key}"><a [^>]*>(\d+)</a>', review.text)
        assert found, key
        return int(found.group(1))

    # The seeded data, as the figures say it.
    assert figure("nc_severity_critical") == 1 and figure("nc_severity_minor") == 3
    assert figure("nc_status_accepted") >= 1 and figure("nc_status_rejected") == 1
    assert figure("overdue_actions") == 2
    assert "longest overdue" in review.text and "(20 days late)" in review.text
    # Everything happened today: the previous period (the 365 days before) had none.
    assert re.search(r'data-previous="nc_reported"><a [^>]*>0</a>', review.text)
    assert re.search(r'data-change="nc_reported">.*?up 6 from 0', review.text, re.S)

    # A one-day period: today, and yesterday beside it.
    today = datetime.now(UTC).date()
    day = manager.get("/dashboard", params={"since": today.isoformat(),
                                            "until": today.isoformat()})
    assert f"Previous period: {(today - timedelta(days=1)):%d %b %Y}" in day.text
    for column, key, link, shown in LINKED.findall(day.text):
        if key.startswith("nc_"):
            assert _total(manager, link) == int(shown), (column, key, link)


def test_screenshots_of_the_dashboard(ui: Ui) -> None:
    """Desktop and 390 px, for docs/ui.md (var/test-artifacts/review/)."""
    from playwright.sync_api import expect

    from tests.e2e.browser import Screenshots, chromium

    shots = Screenshots(SHOTS)
    with chromium() as browser:
        for width, height, suffix in ((1280, 900, "desktop"), (390, 844, "390px")):
            context = browser.new_context(base_url=ui.base,
                                          viewport={"width": width, "height": height})
            context.set_default_timeout(15_000)
            page = context.new_page()
            page.goto("/")
            page.get_by_label("API key").fill(ui.keys["manager"])
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("heading", name="My work", exact=True)).to_be_visible()
            page.get_by_role("link", name="Management review").click()
            expect(page.get_by_role("heading", name="Key figures")).to_be_visible()
            # Every figure is named for a screen reader: the link says what it counts.
            expect(page.get_by_role("link", name=re.compile(
                r"^Overdue actions: 2, show the list$"))).to_be_visible()
            shots.take(page, f"review-{suffix}")
            # No sideways scrolling of the page itself at 390 px.
            assert page.evaluate("document.documentElement.scrollWidth") <= width + 1
            page.get_by_role("link", name=re.compile(r"^Overdue actions: 2")).click()
            expect(page.get_by_role("heading", name="2 actions")).to_be_visible()
            context.close()
    assert len(shots.taken) == 2 and all(p.stat().st_size > 10_000 for p in shots.taken)
