"""My work (each role's start page), the inbox as a work queue, bulk changes and
"Assign to me", against the fake API."""

import re
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx

from tests.unit.web.fake_api import FakeApi, capa, nonconformity, problem, ui_as


def _action(capa_id: str, due: str, owner: str = "test-engineer",
            status: str = "planned", overdue: bool = False) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "capa_id": capa_id, "kind": "corrective",
            "description": f"Fix due {due}", "owner": owner, "due_date": due,
            "status": status, "overdue": overdue, "completion_evidence": None,
            "completed_by": None, "completed_at": None, "version": 1}


def _section(page: str, key: str) -> str:
    found = re.search(rf'<section class="panel" id="{key}".*?</section>', page, re.S)
    assert found, f"no section {key}"
    return found.group(0)


def _lists(fake: FakeApi) -> list[tuple[str, dict[str, list[str]]]]:
    return [(r.url.path, {k: r.url.params.get_list(k) for k in r.url.params})
            for r in fake.requests if r.method == "GET" and r.url.path in (
                "/v1/nonconformities", "/v1/capas", "/v1/actions")]


async def test_the_engineers_work_theirs_first_with_counts_and_links(tmp_path: Path) -> None:
    fake = FakeApi()
    for nc in (nonconformity(number="NC-2026-00001", owner="test-engineer", severity="major"),
               nonconformity(number="NC-2026-00002"), nonconformity(number="NC-2026-00003"),
               nonconformity(number="NC-2026-00004", owner="someone-else"),
               nonconformity(number="NC-2026-00005", status="accepted"),
               # Escalated: worked as its CAPA (whose owner the owner policy set), though
               # the NC itself stays reported and nobody's. Not untriaged work.
               nonconformity(number="NC-2026-00019", capa_link="open",
                             capa_id=str(uuid.uuid4()), capa_number="CAPA-2026-00009"),
               nonconformity(number="NC-2026-00020", capa_link="requested"),
               nonconformity(number="NC-2026-00021", owner="test-engineer",
                             capa_link="requested")):
        fake.ncs[nc["id"]] = nc
    own = capa(number="CAPA-2026-00007", owner="test-engineer", status="implementing")
    fake.capas[own["id"]] = own
    fake.actions[own["id"]] = [_action(own["id"], "2026-12-20"),
                               _action(own["id"], "2026-12-02"),
                               _action(own["id"], "2026-12-01", owner="ann"),
                               _action(own["id"], "2026-11-01", status="done")]
    async with ui_as("engineer", fake, tmp_path) as ui:
        page = (await ui.get("/")).text
    mine, unowned = _section(page, "ncs_mine"), _section(page, "ncs_unowned")
    assert 'data-total="1"' in mine and "NC-2026-00001" in mine
    assert 'data-total="2"' in unowned and "NC-2026-00002" in unowned
    assert "NC-2026-00004" not in page and "NC-2026-00005" not in page
    for escalated in ("NC-2026-00019", "NC-2026-00020", "NC-2026-00021"):
        assert escalated not in page
    # Theirs first: the section of their own comes before nobody's.
    assert page.index('id="ncs_mine"') < page.index('id="ncs_unowned"')
    link = "/nonconformities?status=reported&who=unassigned&capa=none&sort=-severity"
    assert f'href="{link.replace("&", "&amp;")}"' in unowned
    # "All N" leads to a list of the same N.
    async with ui_as("engineer", fake, tmp_path) as ui:
        path, query = link.split("?")
        listed = (await ui.get(path, **dict(parse_qsl(query)))).text
    assert 'data-total="2"' in listed and "NC-2026-00020" not in listed
    assert '<option value="none" selected>' in listed
    capas = _section(page, "capas_mine")
    assert "CAPA-2026-00007" in capas and 'href="/capas?who=mine"' in capas
    actions = _section(page, "actions_mine")
    assert 'data-total="2"' in actions
    assert actions.index("2026-12-02") < actions.index("2026-12-20")
    assert "Fix due 2026-12-01" not in actions  # Ann's
    # No verifier's or manager's sections for an engineer.
    assert 'id="verify"' not in page and 'id="capas_overdue"' not in page
    assert ("/v1/actions", {"limit": ["5"], "mine": ["true"], "open": ["true"]}) \
        in _lists(fake)


async def test_the_verifier_sees_capas_in_verification_they_do_not_own(tmp_path: Path) -> None:
    fake = FakeApi()
    theirs = capa(number="CAPA-2026-00010", status="verifying", owner="test-engineer")
    own = capa(number="CAPA-2026-00011", status="verifying", owner="test-verifier")
    earlier = capa(number="CAPA-2026-00012", status="implementing")
    for item in (theirs, own, earlier):
        fake.capas[item["id"]] = item
    async with ui_as("verifier", fake, tmp_path) as ui:
        page = (await ui.get("/")).text
    section = _section(page, "verify")
    assert "CAPA-2026-00010" in section and 'data-total="1"' in section
    assert "CAPA-2026-00011" not in page and "CAPA-2026-00012" not in page
    assert [s for s in ("ncs_mine", "capas_overdue") if f'id="{s}"' in page] == []


async def test_the_managers_overdue_and_unowned_items(tmp_path: Path) -> None:
    fake = FakeApi()
    late = capa(number="CAPA-2026-00020", overdue=True)
    unowned = capa(number="CAPA-2026-00021", owner=None)
    for item in (late, unowned):
        fake.capas[item["id"]] = item
    fake.actions[late["id"]] = [_action(late["id"], "2026-01-01", overdue=True)]
    async with ui_as("manager", fake, tmp_path) as ui:
        page = (await ui.get("/")).text
    assert "CAPA-2026-00020" in _section(page, "capas_overdue")
    assert "CAPA-2026-00021" in _section(page, "capas_unowned")
    assert "Fix due 2026-01-01" in _section(page, "actions_overdue")
    assert 'id="ncs_unowned"' in page


async def test_a_service_that_cannot_be_reached_empties_only_its_sections(
        tmp_path: Path) -> None:
    fake = FakeApi()
    nc = nonconformity(number="NC-2026-00031")
    fake.ncs[nc["id"]] = nc
    handle = fake.handle

    def capa_down(request: httpx.Request) -> httpx.Response:
        if request.url.host == "capa.test" and request.url.path != "/":
            raise httpx.ConnectError("refused", request=request)
        return handle(request)

    fake.handle = capa_down  # type: ignore[method-assign]
    async with ui_as("engineer", fake, tmp_path) as ui:
        answer = await ui.get("/")
    assert answer.status_code == 200
    assert "NC-2026-00031" in _section(answer.text, "ncs_unowned")
    assert "The capa service cannot be reached" in _section(answer.text, "capas_mine")


async def test_the_inbox_sorts_filters_and_shows_tickets_colours_and_totals(
        tmp_path: Path) -> None:
    fake = FakeApi()
    for nc in (nonconformity(number="NC-2026-00041", severity="critical",
                             external_ref="ZD-9999"),
               nonconformity(number="NC-2026-00042", owner="test-engineer")):
        fake.ncs[nc["id"]] = nc
    async with ui_as("engineer", fake, tmp_path) as ui:
        page = (await ui.get("/nonconformities", sort="-severity", who="unassigned",
                             text="ZD-9999")).text
        stale = await ui.get("/nonconformities", sort="title; drop", who="everyone")
    sent = [p for path, p in _lists(fake) if path == "/v1/nonconformities"]
    assert sent[0] == {"limit": ["50"], "sort": ["-severity"], "assigned": ["false"],
                            "text": ["ZD-9999"]}
    # An unknown sort or owner view from an old bookmark is dropped, not sent on.
    assert "sort" not in sent[1] and "mine" not in sent[1] and stale.status_code == 200
    assert "<td data-label=\"Ticket\">ZD-9999</td>" in page and 'class="sev sev-critical"' in page
    assert "1 nonconformity" in page
    # The sorted column says so, and its link turns the order round.
    header = page.split('aria-sort="descending"')[1].split("</th>")[0]
    assert "Severity" in header and "sort=severity" in header


async def test_bulk_triage_reports_each_rows_outcome(tmp_path: Path) -> None:
    fake = FakeApi()
    ncs = [nonconformity(number=f"NC-2026-0005{n}") for n in range(3)]
    for nc in ncs:
        fake.ncs[nc["id"]] = nc
    ncs[1]["version"] = 4  # changed by someone since the list was shown
    ticked = [("nc", f"{nc['id']}:1:{nc['number']}") for nc in ncs]
    async with ui_as("engineer", fake, tmp_path) as ui:
        answer = await ui.post("/nonconformities/bulk", [
            ("action", "accept"), ("reason", "Reproduced"), ("back", "/nonconformities"),
            *ticked, ("nc", "not-an-id"), ("nc", "'><script>x</script>")])
    assert answer.status_code == 200
    outcomes = re.findall(r'data-outcome="(\w+)"', answer.text)
    assert outcomes == ["ok", "refused", "ok", "refused", "refused"]
    assert "Someone changed it since the list was shown" in answer.text
    assert "<script>x" not in answer.text
    assert [(ncs[0]["status"], ncs[1]["status"], ncs[2]["status"])] == [
        ("accepted", "reported", "accepted")]
    triaged = [w for w in fake.writes() if w[1].endswith("/triage")]
    assert len(triaged) == 3 and triaged[0][2] == {"decision": "accept", "reason": "Reproduced"}


async def test_bulk_assign_to_me_and_close(tmp_path: Path) -> None:
    fake = FakeApi()
    a, b = nonconformity(number="NC-2026-00061"), nonconformity(number="NC-2026-00062")
    fake.ncs |= {a["id"]: a, b["id"]: b}
    async with ui_as("engineer", fake, tmp_path) as ui:
        assigned = await ui.post("/nonconformities/bulk", [
            ("action", "assign_me"), ("nc", f"{a['id']}:1:x"), ("nc", f"{a['id']}:1:x")])
        closed = await ui.post("/nonconformities/bulk", [
            ("action", "close"), ("resolution", "Fixed upstream"), ("nc", f"{b['id']}:1:x")])
    assert assigned.status_code == closed.status_code == 200
    assert a["owner"] == "test-engineer" and b["status"] == "closed"
    assert assigned.text.count('data-outcome="ok"') == 1  # ticked twice, changed once
    assert "Assigned to test-engineer." in assigned.text
    patch = [w for w in fake.writes() if w[0] == "PATCH"]
    assert patch == [("PATCH", f"/v1/nonconformities/{a['id']}", {"owner": "test-engineer"})]
    sent = next(r for r in fake.requests if r.method == "PATCH")
    assert sent.headers["if-match"] == '"1"'


async def test_bulk_refusals_before_any_change_are_422(tmp_path: Path) -> None:
    fake = FakeApi()
    nc = nonconformity()
    fake.ncs[nc["id"]] = nc
    one = ("nc", f"{nc['id']}:1:x")
    async with ui_as("engineer", fake, tmp_path) as ui:
        no_reason = await ui.post("/nonconformities/bulk", [("action", "accept"), one])
        nothing = await ui.post("/nonconformities/bulk", [("action", "accept"),
                                                          ("reason", "r")])
        unknown = await ui.post("/nonconformities/bulk", [("action", "delete"), one])
        huge = await ui.post("/nonconformities/bulk", [("action", "assign_me")] + [
            ("nc", f"{uuid.uuid4()}:1:x") for _ in range(101)])
        evil_back = await ui.post("/nonconformities/bulk", [
            ("action", "assign_me"), one, ("back", "//evil.example/x")])
        no_csrf = await ui.post("/nonconformities/bulk", [("action", "assign_me"), one],
                                csrf=False)
    for answer in (no_reason, nothing, unknown, huge):
        assert answer.status_code == 422, answer.text
    assert "at most 100" in huge.text and "triage reason" in no_reason.text
    assert 'href="/nonconformities"' in evil_back.text and "evil.example" not in evil_back.text
    assert no_csrf.status_code == 403
    assert [w for w in fake.writes() if w[0] != "PATCH"] == []
    assert len([w for w in fake.writes() if w[0] == "PATCH"]) == 1  # evil_back's only


async def test_only_editors_get_the_bulk_controls(tmp_path: Path) -> None:
    fake = FakeApi()
    nc = nonconformity()
    fake.ncs[nc["id"]] = nc
    async with ui_as("reporter", fake, tmp_path) as ui:
        page = (await ui.get("/nonconformities")).text
    assert 'action="/nonconformities/bulk"' not in page and 'type="checkbox" name="nc"' \
        not in page


async def test_assign_to_me_on_an_nc_and_a_capa(tmp_path: Path) -> None:
    fake = FakeApi()
    nc = nonconformity()
    item = capa(owner=None)
    fake.ncs[nc["id"]] = nc
    fake.capas[item["id"]] = item
    async with ui_as("engineer", fake, tmp_path) as ui:
        page = (await ui.get(f"/nonconformities/{nc['id']}")).text
        assert 'aria-label="Assign to me"' in page
        done = await ui.post(f"/nonconformities/{nc['id']}/assign",
                             {"owner": "me", "etag": '"1"'})
        assert done.status_code == 303 and nc["owner"] == "test-engineer"
        after = (await ui.get(f"/nonconformities/{nc['id']}")).text
        assert "Assigned to you." in after and 'aria-label="Assign to me"' not in after
        handed = await ui.post(f"/nonconformities/{nc['id']}/assign",
                               {"owner": "ann", "etag": '"2"'})
        assert handed.status_code == 303 and nc["owner"] == "ann"
        stale = await ui.post(f"/capas/{item['id']}/assign", {"owner": "me", "etag": '"9"'})
        assert stale.status_code == 412 and "Someone else changed this first" in stale.text
        taken = await ui.post(f"/capas/{item['id']}/assign", {"owner": "me", "etag": '"1"'})
        assert taken.status_code == 303 and item["owner"] == "test-engineer"


async def test_a_verifier_gets_no_assign_button_and_the_service_decides(
        tmp_path: Path) -> None:
    fake = FakeApi()
    nc = nonconformity()
    fake.ncs[nc["id"]] = nc
    async with ui_as("verifier", fake, tmp_path) as ui:
        page = (await ui.get(f"/nonconformities/{nc['id']}")).text
        assert 'aria-label="Assign to me"' not in page
        fake.refuse_next = problem(403, "This needs one of the roles: engineer, manager.")
        refused = await ui.post(f"/nonconformities/{nc['id']}/assign",
                                {"owner": "me", "etag": '"1"'})
    assert refused.status_code == 403 and "You are not allowed to do this" in refused.text
    assert nc["owner"] is None


async def test_a_huge_bulk_form_is_a_4xx_page_not_a_500(tmp_path: Path) -> None:
    fake = FakeApi()
    async with ui_as("engineer", fake, tmp_path) as ui:
        answer = await ui.post("/nonconformities/bulk", [("action", "assign_me")] + [
            ("nc", f"{uuid.uuid4()}:1:x") for _ in range(5000)])
    assert 400 <= answer.status_code < 500, answer.status_code
    assert answer.headers["content-type"].startswith("text/html")
    assert fake.writes() == []
