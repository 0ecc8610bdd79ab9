"""My work and the NC inbox as a work queue against the real services
(deploy/run.sh: SQLite + sql bus), with an owner policy for escalated CAPAs:
the engineer's and the verifier's start pages, search by ticket reference, bulk
triage with one stale row, and "Assign to me". Then Chromium screenshots of the
inbox and the start page at desktop width and at 390 px."""

import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.loop import Loop, poll
from tests.e2e.test_run_services import services_running
from tests.e2e.web_stack import Ui

# Escalated CAPAs from support go to the engineer, the rest to the manager.
OWNER_POLICY = {"support": "DEV-Engineer", "*": "dev-manager"}
SHOTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts" / "my-work"


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ui]:
    tmp = tmp_path_factory.mktemp("my-work")
    env = {"BUS": "sql", "CAPA_OWNER_POLICY": json.dumps(OWNER_POLICY)}
    with services_running(env, tmp, web=True) as ports:
        creds = json.loads((Path(tmp) / "var" / "dev-credentials.json").read_text())
        running = Ui(ports, creds["api_keys"])
        try:
            yield running
        finally:
            running.close()


def section(page: httpx.Response, key: str) -> str:
    found = re.search(rf'<section class="panel" id="{key}".*?</section>', page.text, re.S)
    assert found, (key, page.text[:2000])
    return found.group(0)


def report(api: Loop, title: str, **fields: Any) -> dict[str, Any]:
    body = {"title": title, "severity": "minor", "source": "support"} | fields
    return dict(api.call("POST", "nonconformity", "/v1/nonconformities", role="reporter",
                         json=body).json())


def to_verifying(api: Loop, capa_id: str) -> None:
    path = f"/v1/capas/{capa_id}"

    def move(to: str) -> None:
        api.call("POST", "capa", f"{path}/transitions", role="engineer", json={"to": to})

    move("investigating")
    etag = api.call("GET", "capa", f"{path}/root-cause", role="engineer").headers["etag"]
    api.call("PUT", "capa", f"{path}/root-cause", role="engineer", headers={"If-Match": etag},
             json={"status": "submitted", "problem_statement": "Labels smear",
                   "whys": [{"why": "Why smear?", "because": "Ink is wet"},
                            {"why": "Why wet?", "because": "Dryer is off"},
                            {"why": "Why off?", "because": "No start check"}],
                   "root_cause": "The start checklist omits the dryer",
                   "cause_category": "process", "contributing_factors": []})
    move("action_planned")
    action = api.call("POST", "capa", f"{path}/actions", role="engineer", json={
        "kind": "corrective", "description": "Add the dryer to the checklist",
        "owner": "dev-engineer", "due_date": "2027-01-15"}).json()
    move("implementing")
    api.call("PATCH", "capa", f"{path}/actions/{action['id']}", role="engineer",
             headers={"If-Match": f'"{action["version"]}"'},
             json={"status": "done", "completion_evidence": "Checklist rev 4"})
    move("verifying")
    api.call("PUT", "capa", f"{path}/effectiveness-plan", role="engineer",
             json={"criteria": "No smear for 14 days",
                   "check_date": datetime.now(UTC).date().isoformat()})


def test_my_work_for_two_roles_and_bulk_triage_on_the_real_services(ui: Ui) -> None:
    engineer, verifier = ui.person("engineer"), ui.person("verifier")
    marker = uuid.uuid4().hex[:8]
    ncs = [report(ui.api, f"Label smear {marker} {n}", external_ref=f"ZD-{marker}-{n}")
           for n in range(3)]

    # The inbox finds an NC by its ticket reference, shows it, and counts.
    found = engineer.get("/nonconformities", params={"text": f"zd-{marker}-1"})
    assert f">ZD-{marker}-1</td>" in found.text and "1 nonconformity" in found.text
    assert engineer.get("/nonconformities", params={"text": marker}).text.count(
        'name="nc" value=') == 3

    # Bulk triage: two accepted, one refused because it changed since the list was shown.
    ui.api.call("PATCH", "nonconformity", f"/v1/nonconformities/{ncs[2]['id']}",
                role="engineer", headers={"If-Match": '"1"'}, json={"category": "labels"})
    done = engineer.submit("/nonconformities/bulk", [
        ("action", "accept"), ("reason", "Seen on line 2"),
        *[("nc", f"{nc['id']}:1:{nc['number']}") for nc in ncs]])
    assert done.status_code == 200, done.text[:2000]
    assert re.findall(r'data-outcome="(\w+)"', done.text) == ["ok", "ok", "refused"]
    statuses = [ui.api.call("GET", "nonconformity", f"/v1/nonconformities/{nc['id']}")
                .json()["status"] for nc in ncs]
    assert statuses == ["accepted", "accepted", "reported"]

    # The engineer's start page: the untriaged one nobody owns, then "Assign to me".
    home = engineer.get("/")
    assert ncs[2]["number"] in section(home, "ncs_unowned")
    assert ncs[0]["number"] not in home.text  # triaged: no longer waiting
    nc_page = engineer.get(f"/nonconformities/{ncs[2]['id']}")
    etag = re.search(r'action="/nonconformities/[^"]+/assign#assign".*?name="etag" value="'
                     r'([^"]*)"', nc_page.text, re.S)
    assert etag
    taken = engineer.submit(f"/nonconformities/{ncs[2]['id']}/assign",
                            {"owner": "me", "etag": etag.group(1).replace("&#34;", '"')})
    assert taken.status_code == 303, taken.text[:2000]
    home = engineer.get("/")
    assert ncs[2]["number"] in section(home, "ncs_mine")
    assert ncs[2]["number"] not in section(home, "ncs_unowned")

    # A critical NC from support escalates; the policy makes its CAPA the engineer's.
    critical = report(ui.api, f"Labels unreadable {marker}", severity="critical")
    capa = poll(lambda: ui.api.call("GET", "capa", "/v1/capas", params={
        "nonconformity_id": critical["id"]}).json()["items"], message="escalated CAPA")[0]
    assert capa["owner"] == "dev-engineer"
    assert capa["number"] in section(engineer.get("/"), "capas_mine")

    # The verifier's start page: CAPAs in verification, not the ones they own.
    to_verifying(ui.api, capa["id"])
    own = ui.api.call("POST", "capa", "/v1/capas", role="engineer", json={
        "title": f"Own fix {marker}", "severity": "minor", "owner": "dev-verifier"}).json()
    to_verifying(ui.api, own["id"])
    waiting = section(verifier.get("/"), "verify")
    assert capa["number"] in waiting and own["number"] not in waiting
    assert 'id="ncs_mine"' not in verifier.get("/").text


def test_screenshots_of_the_inbox_and_my_work(ui: Ui) -> None:
    """Desktop and 390 px, for docs/ui.md (var/test-artifacts/my-work/)."""
    from playwright.sync_api import expect

    from tests.e2e.browser import Screenshots, chromium

    marker = uuid.uuid4().hex[:6]
    for n, severity in enumerate(["critical", "major", "minor", "observation"]):
        report(ui.api, f"Scanner drops labels {marker} {n}", severity=severity,
               external_ref=f"ZD-{marker}{n}")
    shots = Screenshots(SHOTS)
    base = f"http://127.0.0.1:{ui.api.ports['web']}"
    with chromium() as browser:
        for width, height, suffix in ((1280, 900, "desktop"), (390, 844, "390px")):
            context = browser.new_context(base_url=base,
                                          viewport={"width": width, "height": height})
            context.set_default_timeout(15_000)
            page = context.new_page()
            page.goto("/")
            page.get_by_label("API key").fill(ui.keys["engineer"])
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("heading", name="My work", exact=True)).to_be_visible()
            shots.take(page, f"my-work-{suffix}")
            page.get_by_role("link", name="Nonconformities").first.click()
            page.get_by_role("link", name=re.compile("^Severity")).click()
            expect(page.locator('th[aria-sort="descending"]')).to_contain_text("Severity")
            shots.take(page, f"inbox-{suffix}")
            # No sideways scrolling of the page itself at 390 px.
            assert page.evaluate("document.documentElement.scrollWidth") <= width + 1
            context.close()
    assert len(shots.taken) == 4 and all(p.stat().st_size > 10_000 for p in shots.taken)
