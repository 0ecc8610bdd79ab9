"""The guided CAPA page against the fake API: the stepper and "Next: waiting for",
forms per stage and role, the read-only analysis with "Revise", the early-check
warning, audit entries that say what changed; and "Duplicate of" by NC number."""

import re
from pathlib import Path

import pytest

from tests.unit.web.fake_api import FakeApi, capa, nonconformity, root_cause, ui_as

SUBMITTED = root_cause(status="submitted", problem_statement="Seals leak at 80 C",
                       whys=[{"why": "Why leak?", "because": "Gasket hardens"}] * 3,
                       root_cause="The spec omits the temperature",
                       cause_category="materials_supplier", submissions=1, version=2,
                       updated_by="test-engineer", updated_at="2026-12-01T10:00:00Z")


def forms(page: str) -> set[str]:
    return set(re.findall(r'<form [^>]*aria-label="([^"]+)"', page))


def current_step(page: str) -> str:
    found = re.search(r'data-step="(\w+)"[^>]*aria-current="step"', page)
    assert found, page[:3000]
    return found.group(1)


async def test_stepper_and_waiting_sentence_follow_the_stage(tmp_path: Path) -> None:
    fake = FakeApi()
    item = capa(status="implementing", allowed_transitions=["verifying", "cancelled"],
                owner="erin", blocked={"verifying": "Every action must be done."})
    fake.capas[item["id"]] = item
    fake.actions[item["id"]] = [
        {"id": f"a{n}", "kind": "corrective", "description": f"Step {n}", "owner": "Erin",
         "due_date": "2027-01-10", "status": "planned", "overdue": False, "version": 1,
         "attachments": []} for n in range(2)]
    async with ui_as("reporter", fake, tmp_path) as ui:
        page = (await ui.get(f"/capas/{item['id']}")).text
    assert current_step(page) == "implementing"
    assert re.findall(r'data-step-state="(\w+)"', page) == [
        "complete", "complete", "complete", "current", "upcoming", "upcoming"]
    assert "Waiting for Erin to finish 2 actions." in page
    assert forms(page) == set()  # a reporter reads


@pytest.mark.parametrize(("role", "expected"), [
    ("engineer", {"Root-cause analysis", "Start investigation", "Edit CAPA planning"}),
    ("verifier", set()),
    ("manager", {"Root-cause analysis", "Start investigation", "Edit CAPA planning",
                 "Cancel CAPA"}),
])
async def test_an_open_capa_offers_no_actions_or_effectiveness_forms(
        tmp_path: Path, role: str, expected: set[str]) -> None:
    fake = FakeApi()
    item = capa(status="open")
    fake.capas[item["id"]] = item
    async with ui_as(role, fake, tmp_path) as ui:
        page = (await ui.get(f"/capas/{item['id']}")).text
    assert forms(page) - {"Assign to me"} == expected
    assert "Waiting for dev-engineer to start the investigation." in page


async def test_a_submitted_analysis_is_read_only_until_revise(tmp_path: Path) -> None:
    fake = FakeApi()
    item = capa(status="investigating", allowed_transitions=["action_planned", "cancelled"])
    fake.capas[item["id"]] = item
    fake.analyses[item["id"]] = dict(SUBMITTED)
    path = f"/capas/{item['id']}"
    async with ui_as("engineer", fake, tmp_path) as ui:
        page = (await ui.get(path)).text
        revising = (await ui.get(path, revise="1")).text
    assert "Root-cause analysis" not in forms(page) and "Revise root-cause analysis" in forms(page)
    assert "data-read-only" in page and "The spec omits the temperature" in page
    assert "Waiting for an engineer or a manager to approve the root-cause analysis." in page
    assert "Root-cause analysis" in forms(revising)
    assert "Revise root-cause analysis" not in forms(revising)
    assert "withdraws the submission" in revising
    async with ui_as("verifier", fake, tmp_path) as ui:
        # Not theirs to revise: no button, and ?revise=1 opens nothing.
        assert not forms((await ui.get(path, revise="1")).text)


async def test_no_revise_once_actions_are_planned(tmp_path: Path) -> None:
    fake = FakeApi()
    item = capa(status="action_planned", allowed_transitions=["implementing", "cancelled"])
    fake.capas[item["id"]] = item
    fake.analyses[item["id"]] = dict(SUBMITTED)
    async with ui_as("engineer", fake, tmp_path) as ui:
        page = (await ui.get(f"/capas/{item['id']}", revise="1")).text
    assert {"Plan an action", "Plan effectiveness check"} <= forms(page)
    assert not {"Root-cause analysis", "Revise root-cause analysis"} & forms(page)


@pytest.mark.parametrize(("role", "form", "reason_field"), [
    ("verifier", False, False), ("manager", True, True), ("engineer", False, False)])
async def test_verifying_before_the_check_date_warns_and_only_managers_get_a_reason(
        tmp_path: Path, role: str, form: bool, reason_field: bool) -> None:
    fake = FakeApi()
    item = capa(status="verifying", owner="someone-else",
                allowed_transitions=["closed", "investigating", "cancelled"],
                effectiveness_plan={"criteria": "No leak", "check_date": "2999-01-15"},
                blocked={"closed": "Closing needs an effectiveness verification.",
                         "investigating": "Only after a failed check."})
    fake.capas[item["id"]] = item
    async with ui_as(role, fake, tmp_path) as ui:
        page = (await ui.get(f"/capas/{item['id']}")).text
    assert ("Record effectiveness verification" in forms(page)) is form
    assert "Close CAPA" not in forms(page)  # not possible yet, for anyone
    assert ('id="f-verify-override_reason"' in page) is reason_field
    if form:
        assert "The check is planned for" in page and "2999-01-15" in page
    if role == "verifier":  # no form the API would refuse; when it can be recorded instead
        assert ("The effectiveness check is planned for 2999-01-15; the verification can be "
                "recorded from then (a manager may record it earlier with a reason).") in page
    assert "Waiting for the effectiveness check on 2999-01-15." in page


async def test_the_owner_gets_no_verification_form_but_the_reason(tmp_path: Path) -> None:
    fake = FakeApi()
    item = capa(status="verifying", owner="test-verifier",
                allowed_transitions=["closed", "investigating", "cancelled"],
                effectiveness_plan={"criteria": "No leak", "check_date": "2026-01-15"})
    fake.capas[item["id"]] = item
    async with ui_as("verifier", fake, tmp_path) as ui:
        page = (await ui.get(f"/capas/{item['id']}")).text
    assert "Record effectiveness verification" not in forms(page)
    assert "data-verify-refused" in page and "another verifier or manager" in page


async def test_closing_ahead_of_the_check_date_is_warned_in_the_close_form(
        tmp_path: Path) -> None:
    fake = FakeApi()
    item = capa(status="verifying", owner="ann",
                allowed_transitions=["closed", "investigating", "cancelled"],
                effectiveness_plan={"criteria": "No leak", "check_date": "2999-01-15"},
                blocked={"investigating": "Only after a failed check."})
    fake.capas[item["id"]] = item
    fake.verifications[item["id"]] = [{"id": "v1", "cycle": 0, "result": "effective",
                                       "evidence": "early", "verified_by": "max",
                                       "verified_at": "2026-12-01T00:00:00Z",
                                       "attachments": []}]
    async with ui_as("manager", fake, tmp_path) as ui:
        page = (await ui.get(f"/capas/{item['id']}")).text
    assert "Close CAPA" in forms(page)
    close = page.split('aria-label="Close CAPA"')[1].split("</form>")[0]
    assert "data-early-warning" in close and "2999-01-15" in close
    assert "Waiting for a manager to close the CAPA." in page


async def test_audit_entries_say_what_changed_with_right_plurals(tmp_path: Path) -> None:
    fake = FakeApi()
    item = capa(status="investigating")
    fake.capas[item["id"]] = item
    fake.trails[item["id"]] = [{
        "sequence": 1, "at": "2026-12-01T10:00:00Z", "actor": "max", "action": "updated",
        "before": {"owner": None, "due_date": "2027-01-10"},
        "after": {"owner": "erin", "due_date": "2027-01-20"}, "reason": "hand-over",
        "changes": [{"field": "owner", "old": None, "new": "erin"},
                    {"field": "due_date", "old": "2027-01-10", "new": "2027-01-20"}]}]
    async with ui_as("reporter", fake, tmp_path) as ui:
        page = (await ui.get(f"/capas/{item['id']}")).text
    assert "Hash chain intact (1 entry)." in page
    assert "<li>Owner: \u2013 → erin</li><li>Due date: 2027-01-10 → 2027-01-20</li>" in page


async def test_duplicate_of_takes_an_nc_number_and_offers_suggestions(tmp_path: Path) -> None:
    fake = FakeApi()
    nc = nonconformity(number="NC-2026-00007")
    original = nonconformity(number="NC-2026-00042", title="Seal leak line 3")
    fake.ncs |= {nc["id"]: nc, original["id"]: original}
    path = f"/nonconformities/{nc['id']}"
    async with ui_as("engineer", fake, tmp_path) as ui:
        page = (await ui.get(path)).text
        assert 'list="nc-suggestions"' in page
        assert '<option value="NC-2026-00042">NC-2026-00042 Seal leak line 3</option>' in page
        assert '<option value="NC-2026-00007">' not in page  # not itself
        for spelling in ("nc-2026-42", "42", "NC-2026-00042", "seal leak"):
            nc["status"], nc["version"] = "reported", 1
            done = await ui.post(f"{path}/triage", {"etag": '"1"', "decision": "duplicate",
                                                    "reason": "same", "duplicate_of": spelling})
            assert done.status_code == 303, (spelling, done.text[:500])
            assert fake.writes()[-1][2]["duplicate_of"] == original["id"]


@pytest.mark.parametrize(("typed", "message"), [
    ("NC-2026-00999", "There is no nonconformity NC-2026-00999."),
    ("999", "There is no nonconformity numbered 999."),
    ("<script>alert(1)</script>%_'", "No nonconformity matches"),
    ("x" * 500, "too long"),
])
async def test_an_unknown_or_hostile_reference_is_a_form_error(
        tmp_path: Path, typed: str, message: str) -> None:
    fake = FakeApi()
    nc = nonconformity(number="NC-2026-00007")
    fake.ncs[nc["id"]] = nc
    async with ui_as("engineer", fake, tmp_path) as ui:
        answer = await ui.post(f"/nonconformities/{nc['id']}/triage", {
            "etag": '"1"', "decision": "duplicate", "reason": "same", "duplicate_of": typed})
    assert answer.status_code == 422
    error = answer.text.split('id="e-triage-duplicate_of">')[1].split("</p>")[0]
    assert message in error and "<script>" not in answer.text
    assert not [w for w in fake.writes() if w[1].endswith("/triage")]


async def test_several_matches_ask_for_the_whole_number(tmp_path: Path) -> None:
    fake = FakeApi()
    nc = nonconformity(number="NC-2026-00007")
    older = nonconformity(number="NC-2025-00042")
    newer = nonconformity(number="NC-2026-00042")
    fake.ncs |= {n["id"]: n for n in (nc, older, newer)}
    async with ui_as("engineer", fake, tmp_path) as ui:
        answer = await ui.post(f"/nonconformities/{nc['id']}/triage", {
            "etag": '"1"', "decision": "duplicate", "reason": "same", "duplicate_of": "42"})
    assert answer.status_code == 422
    assert "NC-2025-00042, NC-2026-00042. Give the whole number." in answer.text



async def test_an_unknown_duplicate_is_one_message_at_the_field_which_takes_the_focus(
        tmp_path: Path) -> None:
    fake = FakeApi()
    nc = nonconformity(number="NC-2026-00007")
    fake.ncs[nc["id"]] = nc
    async with ui_as("engineer", fake, tmp_path) as ui:
        answer = await ui.post(f"/nonconformities/{nc['id']}/triage", {
            "etag": '"1"', "decision": "duplicate", "reason": "same", "duplicate_of": "99"})
    assert answer.status_code == 422
    assert answer.text.count("There is no nonconformity numbered 99") == 1
    assert 'class="form-error"' not in answer.text  # no second message above the form
    field = answer.text.split('id="f-triage-duplicate_of"')[1].split(">")[0]
    assert "autofocus" in field and 'aria-invalid="true"' in field


@pytest.mark.parametrize("typed", ["2026-1", "1", "nc-2026-1", "Checkout"])
async def test_a_closed_nc_is_named_only_by_its_whole_number(tmp_path: Path,
                                                             typed: str) -> None:
    """A short spelling resolves among the open NCs (those suggested) only: "2026-1" must
    not land silently on the closed NC-2026-00001."""
    fake = FakeApi()
    nc = nonconformity(number="NC-2026-00007", title="Seal leak")
    closed = nonconformity(number="NC-2026-00001", status="closed")
    fake.ncs |= {nc["id"]: nc, closed["id"]: closed}
    path = f"/nonconformities/{nc['id']}/triage"
    async with ui_as("engineer", fake, tmp_path) as ui:
        answer = await ui.post(path, {"etag": '"1"', "decision": "duplicate",
                                      "reason": "same", "duplicate_of": typed})
        assert answer.status_code == 422
        error = answer.text.split('id="e-triage-duplicate_of">')[1].split("</p>")[0]
        assert "NC-2026-00001 is not open (closed)" in error and "whole number" in error
        assert not [w for w in fake.writes() if w[1].endswith("/triage")]
        for whole in ("NC-2026-00001", "2026-00001"):
            nc["status"], nc["version"] = "reported", 1
            done = await ui.post(path, {"etag": '"1"', "decision": "duplicate",
                                        "reason": "same", "duplicate_of": whole})
            assert done.status_code == 303, (whole, done.text[:500])
            assert fake.writes()[-1][2]["duplicate_of"] == closed["id"]
