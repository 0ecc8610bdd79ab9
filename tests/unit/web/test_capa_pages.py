"""CAPA pages against a fake API: the board, the workflow buttons per role, the
5-Whys form (rows without JavaScript, 422 messages at the fields, 412 conflict),
CSRF, and refusals shown as messages."""

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.unit.web.fake_api import FakeApi, capa, problem, root_cause, ui_as


def _row_fields(rows: list[tuple[str, str]]) -> list[tuple[str, str]]:
    fields: list[tuple[str, str]] = []
    for why, because in rows:
        fields += [("why", why), ("because", because)]
    return fields


def _root_form(etag: str, rows: list[tuple[str, str]], op: str,
               **extra: str) -> list[tuple[str, str]]:
    fields = {"problem_statement": "Seals leak at 80 C", "root_cause": "",
              "cause_category": "", "contributing_factors": "",
              "short_chain_justification": ""} | extra
    return [("etag", etag), *fields.items(), *_row_fields(rows), ("op", op)]


async def test_board_groups_cards_by_state_and_marks_overdue(tmp_path: Path) -> None:
    fake = FakeApi()
    late = capa(number="CAPA-2026-00001", title="Seal leak", status="investigating",
                overdue=True, owner="ann", due_date="2026-02-01")
    fresh = capa(number="CAPA-2026-00002", title="Label misprint", status="open")
    done = capa(number="CAPA-2026-00003", title="Old one", status="closed")
    fake.capas |= {c["id"]: c for c in (late, fresh, done)}
    async with ui_as("reporter", fake, tmp_path) as ui:
        board = await ui.get("/capas", severity="major", overdue="1")
        sent = fake.requests[-1].url.params
        assert sent.get_list("status") == ["open", "investigating", "action_planned",
                                           "implementing", "verifying"]
        assert (sent["severity"], sent["overdue"]) == ("major", "true")
        with_finished = await ui.get("/capas", finished="1")
    column = board.text.split('id="col-investigating"')[1].split("</section>")[0]
    assert "CAPA-2026-00001" in column and "overdue" in column and "ann" in column
    assert "2026-02-01" in column and "CAPA-2026-00002" not in column
    assert "CAPA-2026-00003" not in board.text
    assert "CAPA-2026-00003" in with_finished.text.split('id="col-closed"')[1]
    # The count agrees with its noun: "1 CAPA matches", "3 CAPAs match".
    assert "3 CAPAs match these filters." in with_finished.text
    assert "1 CAPA matches these filters." in board.text


@pytest.mark.requirement("part11-11.10g", "part11-11.10f")
async def test_workflow_buttons_follow_role_and_allowed_transitions(tmp_path: Path) -> None:
    fake = FakeApi()
    item = capa(status="open", allowed_transitions=["investigating", "cancelled"])
    fake.capas[item["id"]] = item
    path = f"/capas/{item['id']}"
    async with ui_as("reporter", fake, tmp_path) as ui:
        page = await ui.get(path)
        assert page.status_code == 200 and "CAPA-2026-00001" in page.text
        for name in ("Start investigation", "Cancel CAPA", "Root-cause analysis",
                     "Plan an action"):
            assert f'aria-label="{name}"' not in page.text
    async with ui_as("engineer", fake, tmp_path) as ui:
        page = await ui.get(path)
        for name in ("Start investigation", "Root-cause analysis"):
            assert f'aria-label="{name}"' in page.text
        assert 'aria-label="Cancel CAPA"' not in page.text  # a manager's decision
        # Actions are planned once the root cause is known (issue 16: the guided page).
        assert 'aria-label="Plan an action"' not in page.text
    async with ui_as("manager", fake, tmp_path) as ui:
        page = await ui.get(path)
        assert 'aria-label="Cancel CAPA"' in page.text
        assert 'id="f-cancel-reason"' in page.text  # cancelling needs a reason


async def test_a_move_a_rule_still_blocks_is_no_button_but_says_why(tmp_path: Path) -> None:
    fake = FakeApi()
    item = capa(status="verifying", allowed_transitions=["closed", "investigating",
                                                         "cancelled"],
                blocked={"closed": "Closing needs an effectiveness verification with the "
                                   "result 'effective'."})
    fake.capas[item["id"]] = item
    async with ui_as("manager", fake, tmp_path) as ui:
        page = await ui.get(f"/capas/{item['id']}")
    assert 'aria-label="Close CAPA"' not in page.text
    assert 'aria-label="Cancel CAPA"' in page.text
    blocked = page.text.split('aria-label="Moves not possible yet"')[1].split("</ul>")[0]
    assert "Closed" in blocked and "needs an effectiveness verification" in blocked


async def test_closing_sends_the_lesson_and_shows_a_refusal(tmp_path: Path) -> None:
    fake = FakeApi()
    item = capa(status="verifying", allowed_transitions=["closed", "investigating",
                                                         "cancelled"])
    fake.capas[item["id"]] = item
    path = f"/capas/{item['id']}"
    async with ui_as("manager", fake, tmp_path) as ui:
        page = await ui.get(path)
        assert 'aria-label="Close CAPA"' in page.text
        assert 'id="f-close-lesson"' in page.text and 'id="f-reinvestigate-reason"' in page.text
        assert 'aria-label="Reopen investigation"' in page.text  # verifying: not effective
        fake.refuse_next = problem(409, "Closing needs an effectiveness verification with "
                                        "the result 'effective'.")
        refused = await ui.post(f"{path}/transitions", {"to": "closed", "lesson": "Spec it",
                                                        "lesson_tags": "", "reason": ""})
        assert refused.status_code == 409
        assert "Closing needs an effectiveness verification" in refused.text
        assert "Spec it" in refused.text  # the person's lesson is kept
        done = await ui.post(f"{path}/transitions", {
            "to": "closed", "lesson": "State the temperature in every spec",
            "lesson_tags": "seals, specs", "reason": "verified effective"})
    assert done.status_code == 303 and item["status"] == "closed"
    assert fake.writes()[-1][2] == {
        "to": "closed", "reason": "verified effective",
        "lesson": {"what_to_do_differently": "State the temperature in every spec",
                   "tags": ["seals", "specs"]}}


async def test_why_rows_are_added_and_removed_without_javascript(tmp_path: Path) -> None:
    fake = FakeApi()
    item = capa(status="investigating")
    fake.capas[item["id"]] = item
    path = f"/capas/{item['id']}/root-cause"
    rows = [("Why leak?", "Gasket hardens"), ("Why harden?", "Wrong compound")]
    async with ui_as("engineer", fake, tmp_path) as ui:
        page = await ui.get(f"/capas/{item['id']}")
        assert 'id="f-why-2"' in page.text  # a fresh analysis starts with 3 rows
        added = await ui.post(path, _root_form('"0"', rows, "add_why"))
        assert added.status_code == 200
        assert 'id="f-why-2"' in added.text and 'id="f-why-3"' not in added.text
        assert "Wrong compound" in added.text and "Seals leak at 80 C" in added.text
        assert 'aria-label="Remove why 3"' in added.text
        removed = await ui.post(path, [*_root_form('"0"', rows, ""), ("remove_why", "0")])
        assert removed.status_code == 200
        assert "Why leak?" not in removed.text and "Why harden?" in removed.text
        assert 'id="f-why-1"' not in removed.text
    assert fake.writes() == []  # nothing is saved by the row buttons


def _autofocused(page: str) -> list[str]:
    return re.findall(r'<(?:textarea|button)[^>]*\bid="([^"]*)"[^>]*\bautofocus\b', page) + \
        re.findall(r'<button[^>]*\bdata-why-add\b[^>]*\bautofocus\b', page)


async def test_without_javascript_the_focus_comes_back_to_the_row(tmp_path: Path) -> None:
    """The page after a row button puts the focus where the person was working (the
    new row; the row that took the removed one's place; "Add a why" after the last
    row), and the row buttons post without the #root-cause fragment, at which a
    browser would ignore autofocus."""
    fake = FakeApi()
    item = capa(status="investigating")
    fake.capas[item["id"]] = item
    path = f"/capas/{item['id']}/root-cause"
    rows = [("Why leak?", "Gasket hardens"), ("Why harden?", "Wrong compound"),
            ("Why wrong?", "No spec")]
    async with ui_as("engineer", fake, tmp_path) as ui:
        page = await ui.get(f"/capas/{item['id']}")
        assert _autofocused(page.text) == []  # a page opened normally steals no focus
        assert f'formaction="{path}"' in page.text
        added = await ui.post(path, _root_form('"0"', rows, "add_why"))
        assert _autofocused(added.text) == ["f-why-3"]
        middle = await ui.post(path, [*_root_form('"0"', rows, ""), ("remove_why", "1")])
        assert _autofocused(middle.text) == ["f-why-1"]
        assert re.search(r'id="f-why-1"[^>]*>Why wrong\?<', middle.text)
        last = await ui.post(path, [*_root_form('"0"', rows, ""), ("remove_why", "2")])
        focused = _autofocused(last.text)
        assert len(focused) == 1 and "data-why-add" in focused[0]


async def test_a_refused_submission_shows_each_message_at_its_field(tmp_path: Path) -> None:
    fake = FakeApi()
    item = capa(status="investigating")
    fake.capas[item["id"]] = item
    async with ui_as("engineer", fake, tmp_path) as ui:
        # An empty row in the middle is not sent, so the API's "whys.1" is the
        # page's third row.
        fake.refuse_next = problem(422, "The analysis is not complete enough to submit.", [
            {"field": "whys.1", "message": "Each level needs both a why and a because."},
            {"field": "cause_category", "message": "Choose a cause category."}])
        page = await ui.post(f"/capas/{item['id']}/root-cause", _root_form(
            '"0"', [("Why leak?", "Gasket hardens"), ("", ""), ("Why harden?", "")],
            "submit", root_cause="Spec omits temperature"))
    assert page.status_code == 422
    method, _, body = fake.writes()[0]
    assert method == "PUT" and body["status"] == "submitted"
    assert body["whys"] == [{"why": "Why leak?", "because": "Gasket hardens"},
                            {"why": "Why harden?", "because": ""}]
    assert '<p class="error" id="e-why-2">Each level needs both a why and a because.' \
        in page.text
    assert 'id="f-why-2" name="why" rows="2" data-why-part="why" aria-invalid="true" ' \
           'aria-describedby="e-why-2"' in page.text
    assert 'aria-invalid="true" aria-describedby="e-rc-cause_category"' in page.text
    assert "Spec omits temperature" in page.text  # the person's text stays


async def test_someone_else_saving_first_keeps_my_text_and_shows_theirs(
        tmp_path: Path) -> None:
    fake = FakeApi()
    item = capa(status="investigating")
    fake.capas[item["id"]] = item
    fake.analyses[item["id"]] = root_cause(problem_statement="Ann: the ribbon slips",
                                           version=3, updated_by="test-ann")
    rows = [("Why?", "Because.")]
    async with ui_as("engineer", fake, tmp_path) as ui:
        page = await ui.post(f"/capas/{item['id']}/root-cause",
                             _root_form('"2"', rows, "draft", problem_statement="Bob: dirty"))
        assert page.status_code == 412
        assert "Someone else saved this root-cause analysis first" in page.text
        assert "data-current-version" in page.text and "Ann: the ribbon slips" in page.text
        assert "Bob: dirty" in page.text
        assert 'name="etag" value="&#34;3&#34;"' in page.text  # saving again is deliberate
        put = next(r for r in fake.requests if r.method == "PUT")
        assert put.headers["if-match"] == '"2"'
        again = await ui.post(f"/capas/{item['id']}/root-cause",
                              _root_form('"3"', rows, "draft", problem_statement="Bob: dirty"))
    assert again.status_code == 303
    assert fake.analyses[item["id"]]["problem_statement"] == "Bob: dirty"


async def test_posts_without_the_csrf_token_are_refused(tmp_path: Path) -> None:
    fake = FakeApi()
    item = capa(status="investigating")
    fake.capas[item["id"]] = item
    async with ui_as("engineer", fake, tmp_path) as ui:
        for path, form in ((f"/capas/{item['id']}/root-cause",
                            _root_form('"0"', [("a", "b")], "draft")),
                           (f"/capas/{item['id']}/transitions", [("to", "action_planned")]),
                           (f"/capas/{item['id']}/actions", [("kind", "corrective")])):
            refused = await ui.post(path, form, csrf=False)
            assert refused.status_code == 403, path
    assert fake.writes() == []


async def test_a_forbidden_move_is_a_message(tmp_path: Path) -> None:
    fake = FakeApi()
    item = capa(status="investigating", allowed_transitions=["action_planned", "cancelled"])
    fake.capas[item["id"]] = item
    async with ui_as("verifier", fake, tmp_path) as ui:
        fake.refuse_next = problem(403, "Moving a CAPA to 'cancelled' needs one of the "
                                        "roles: manager.")
        page = await ui.post(f"/capas/{item['id']}/transitions", {"to": "cancelled",
                                                                  "reason": "x"})
    assert page.status_code == 403
    assert "You are not allowed to do this: Moving a CAPA to &#39;cancelled&#39;" in page.text


async def test_opening_a_preventive_capa_and_editing_its_planning(tmp_path: Path) -> None:
    fake = FakeApi()
    async with ui_as("reporter", fake, tmp_path) as ui:
        assert 'href="/capas/new"' not in (await ui.get("/capas")).text
    async with ui_as("manager", fake, tmp_path) as ui:
        assert 'href="/capas/new"' in (await ui.get("/capas")).text
        assert 'aria-label="Open a CAPA"' in (await ui.get("/capas/new")).text
        opened = await ui.post("/capas", {"kind": "preventive", "title": "Single supplier",
                                          "severity": "minor", "likelihood": "2",
                                          "owner": "", "due_date": "", "description": ""})
        item = next(iter(fake.capas.values()))
        assert opened.status_code == 303 and opened.headers["location"] == f"/capas/{item['id']}"
        assert fake.writes()[-1][2] == {"kind": "preventive", "title": "Single supplier",
                                        "severity": "minor", "likelihood": 2}
        page = await ui.get(f"/capas/{item['id']}")
        assert 'aria-label="Edit CAPA planning"' in page.text
        item["version"] = 5  # someone else edited meanwhile
        stale = await ui.post(f"/capas/{item['id']}/edit", {
            "etag": '"1"', "owner": "bob", "due_date": "2026-05-01", "likelihood": "4",
            "reason": ""})
        assert stale.status_code == 412 and "Someone else changed this first" in stale.text
        assert 'name="supplier_code"' in page.text
        fake.suppliers["acme-seals"] = {"code": "acme-seals", "name": "Acme Seals GmbH"}
        page = await ui.get(f"/capas/{item['id']}")
        # The register is offered by name, the code as the value (issue 5).
        assert '<option value="acme-seals">Acme Seals GmbH (acme-seals)</option>' in page.text
        writes = len(fake.writes())
        typo = await ui.post(f"/capas/{item['id']}/edit", {
            "etag": '"5"', "owner": "bob", "supplier_code": "Acme Seal", "reason": "x"})
        assert typo.status_code == 422 and "is not in the supplier register" in typo.text
        assert 'href="/suppliers/new">Register the supplier' in typo.text  # a manager
        assert len(fake.writes()) == writes  # refused before the service is asked
        done = await ui.post(f"/capas/{item['id']}/edit", {
            "etag": '"5"', "owner": "bob", "due_date": "2026-05-01", "likelihood": "4",
            "supplier_code": "acme seals gmbh", "reason": "re-planned"})
    assert done.status_code == 303
    assert (item["owner"], item["due_date"], item["likelihood"]) == ("bob", "2026-05-01", 4)
    assert fake.writes()[-1][2]["supplier_code"] == "acme-seals"


async def test_evidence_saved_earlier_is_in_the_form_that_marks_the_action_done(
        tmp_path: Path) -> None:
    """The API wants the completion evidence in the request that marks an action
    done: the form carries what was saved before, so marking done needs no retyping."""
    fake = FakeApi()
    item = capa(status="implementing", allowed_transitions=["verifying"])
    fake.capas[item["id"]] = item
    action_id = "5f0c5b8e-9c1d-4d7e-8f37-3b0c2d1e4a11"
    fake.actions[item["id"]] = [{
        "id": action_id, "kind": "corrective", "description": "Replace the seal supplier",
        "owner": "ann", "due_date": "2026-12-31", "status": "in_progress", "overdue": False,
        "completion_evidence": "PO 4711 & supplier audit report", "completed_by": None,
        "completed_at": None, "version": 3}]
    async with ui_as("engineer", fake, tmp_path) as ui:
        page = await ui.get(f"/capas/{item['id']}")
    form = page.text.split(f'action="/capas/{item["id"]}/actions/{action_id}#actions"')[1]
    textarea = form.split("<textarea")[1].split("</textarea>")[0]
    assert "PO 4711 &amp; supplier audit report" in textarea


async def test_only_open_actions_get_an_update_form_offering_done(tmp_path: Path) -> None:
    fake = FakeApi()
    item = capa(status="implementing", allowed_transitions=["verifying"])
    fake.capas[item["id"]] = item
    fake.actions[item["id"]] = [
        {"id": f"5f0c5b8e-9c1d-4d7e-8f37-3b0c2d1e4a1{n}", "kind": "corrective",
         "description": f"Action {status}", "owner": "ann", "due_date": "2026-12-31",
         "status": status, "overdue": False, "completion_evidence": None,
         "completed_by": None, "completed_at": None, "version": 1}
        for n, status in enumerate(("done", "planned", "cancelled", "in_progress"))]
    async with ui_as("engineer", fake, tmp_path) as ui:
        page = await ui.get(f"/capas/{item['id']}")
    forms = [n for n in range(1, 5) if f'aria-label="Update action {n}"' in page.text]
    assert forms == [2, 4]
    status_menu = page.text.split('id="f-a2-status"')[1].split("</select>")[0]
    assert '<option value="done" selected>' in status_menu


async def test_verifying_before_the_check_date_says_so_and_lets_a_manager_give_a_reason(
        tmp_path: Path) -> None:
    fake = FakeApi()
    later = (datetime.now(UTC).date() + timedelta(days=20)).isoformat()
    item = capa(status="verifying", allowed_transitions=[],
                effectiveness_plan={"criteria": "No leak for 30 days", "check_date": later})
    fake.capas[item["id"]] = item
    path = f"/capas/{item['id']}"
    async with ui_as("verifier", fake, tmp_path) as ui:
        page = await ui.get(path)
        assert f'<time datetime="{later}">' in page.text
        assert ("the verification can be recorded from then (a manager may record it "
                "earlier with a reason)") in page.text
        assert 'name="override_reason"' not in page.text
        assert 'aria-label="Record effectiveness verification"' not in page.text
    async with ui_as("manager", fake, tmp_path) as ui:
        page = await ui.get(path)
        assert 'name="override_reason"' in page.text
        done = await ui.post(f"{path}/verifications", {
            "result": "effective", "evidence": "No leak since the fix",
            "override_reason": "Line 3 is decommissioned before the check date"})
    assert done.status_code == 303
    assert fake.writes()[-1][2] == {
        "result": "effective", "evidence": "No leak since the fix",
        "override_reason": "Line 3 is decommissioned before the check date"}


async def test_on_the_check_date_no_early_warning_is_shown(tmp_path: Path) -> None:
    fake = FakeApi()
    today = datetime.now(UTC).date().isoformat()
    item = capa(status="verifying", allowed_transitions=[],
                effectiveness_plan={"criteria": "No leak for 30 days", "check_date": today})
    fake.capas[item["id"]] = item
    async with ui_as("manager", fake, tmp_path) as ui:
        page = await ui.get(f"/capas/{item['id']}")
    assert 'aria-label="Record effectiveness verification"' in page.text
    assert 'name="override_reason"' not in page.text


async def test_the_capa_page_lists_its_scars_and_offers_send(tmp_path: Path) -> None:
    fake = FakeApi()
    item = capa(status="investigating")
    fake.capas[item["id"]] = item
    async with ui_as("engineer", fake, tmp_path) as ui:
        page = await ui.get(f"/capas/{item['id']}")
        assert "Supplier corrective action requests" in page.text
        assert f'href="/capas/{item["id"]}/scars/new"' in page.text
    async with ui_as("reporter", fake, tmp_path) as ui:
        page = await ui.get(f"/capas/{item['id']}")
        assert "Supplier corrective action requests" in page.text
        assert "/scars/new" not in page.text
