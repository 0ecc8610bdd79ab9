"""The forms as a person meets them: refusals in plain words at the row or field
they are about, only the fields a decision takes sent, no form offered that the API
would refuse, each form re-rendered at its own section, and filters that say when a
value is unknown."""

import re
import uuid
from pathlib import Path

import pytest

from services.web.pages.wording import plain
from tests.unit.web.fake_api import FakeApi, capa, nonconformity, problem, root_cause, ui_as

INVALID = "The request is not valid; see errors for each field."


def _root_form(rows: list[tuple[str, str]], op: str = "draft") -> list[tuple[str, str]]:
    fields = [("etag", '"0"'), ("problem_statement", "Seals leak"), ("root_cause", ""),
              ("cause_category", ""), ("contributing_factors", ""),
              ("short_chain_justification", "")]
    for why, because in rows:
        fields += [("why", why), ("because", because)]
    return [*fields, ("op", op)]


@pytest.mark.parametrize(("raw", "shown"), [
    ("Input should be a valid UUID, invalid character: found `x` at 1",
     "Give the id as shown on its page (a UUID)."),
    ("String should match pattern '^[A-Za-z0-9._:/-]+$'",
     "Tags may use letters, digits and . _ : / - only."),
    ("String should have at least 3 characters", "Needs at least 3 characters."),
    ("String should match pattern '^[^\\x00]*$'", "Contains characters that are not allowed here."),
    (INVALID, "Some fields need another look; see the messages at them."),
    ("Value error, duplicate_of is required for decision 'duplicate' and only then",
     "“Duplicate of (NC number)” is required for decision 'duplicate' and only then"),
    # The API's own words stay; only the field name becomes the form's label.
    ("Ask 'why?' at least 3 times (2 given), or explain in short_chain_justification why "
     "fewer levels reach the root cause.",
     "Ask 'why?' at least 3 times (2 given), or explain in “If fewer than 3 levels: why they "
     "reach the root cause” why fewer levels reach the root cause."),
    ("State the root cause before submitting.", "State the root cause before submitting."),
    # The refusal before the check date names the form's field, with its article.
    ("The effectiveness check is planned for 2027-01-06; today is 2026-12-07 (UTC). Record "
     "the result on or after the planned date, or a manager may record it early with an "
     "override_reason.",
     "The effectiveness check is planned for 2027-01-06; today is 2026-12-07 (UTC). Record "
     "the result on or after the planned date, or a manager may record it early with a "
     "“Reason to verify before the check date”."),
])
def test_pydantic_wording_becomes_plain_words(raw: str, shown: str) -> None:
    assert plain(raw) == shown


async def test_a_half_filled_why_row_is_named_by_its_page_row(tmp_path: Path) -> None:
    fake = FakeApi()
    item = capa(status="investigating")
    fake.capas[item["id"]] = item
    async with ui_as("engineer", fake, tmp_path) as ui:
        # The empty second row is not sent: the API's row 1 is the page's third.
        fake.refuse_next = problem(422, INVALID, [
            {"field": "body.whys.1.because",
             "message": "String should have at least 1 character"}])
        page = await ui.post(f"/capas/{item['id']}/root-cause", _root_form(
            [("Why leak?", "Gasket hardens"), ("", ""), ("Why harden?", "")]))
        fake.refuse_next = problem(422, INVALID, [
            {"field": "body.whys.0.why", "message": "String should have at least 1 character"}])
        why_missing = await ui.post(f"/capas/{item['id']}/root-cause",
                                    _root_form([("", "Gasket hardens")]))
    assert page.status_code == 422
    assert '<p class="error" id="e-why-2">Why 3 needs its answer (Because 3) — or remove the ' \
           'row.</p>' in page.text
    assert "Some fields need another look" in page.text
    assert "String should" not in page.text and INVALID not in page.text
    assert "Because 1 needs its question (Why 1) — or remove the row." in why_missing.text


async def test_a_message_naming_a_field_shows_its_label(tmp_path: Path) -> None:
    fake = FakeApi()
    item = capa(status="investigating")
    fake.capas[item["id"]] = item
    async with ui_as("engineer", fake, tmp_path) as ui:
        fake.refuse_next = problem(422, "The analysis is not complete enough to submit.", [
            {"field": "whys", "message": "Ask 'why?' at least 3 times (1 given), or explain "
                                         "in short_chain_justification why fewer levels "
                                         "reach the root cause."}])
        page = await ui.post(f"/capas/{item['id']}/root-cause",
                             _root_form([("a", "b")], "submit"))
    assert "short_chain_justification why" not in page.text
    assert "explain in “If fewer than 3 levels: why they reach the root cause”" in page.text


async def test_nc_forms_show_uuid_and_tag_refusals_in_plain_words(tmp_path: Path) -> None:
    fake = FakeApi()
    nc = nonconformity()
    fake.ncs[nc["id"]] = nc
    async with ui_as("engineer", fake, tmp_path) as ui:
        # "Duplicate of" takes a number or words now (pages/nc_refs.py): text that
        # names no NC is a message at the field before anything is sent.
        triage = await ui.post(f"/nonconformities/{nc['id']}/triage", {
            "etag": '"1"', "decision": "duplicate", "reason": "same", "duplicate_of": "nx"})
        fake.refuse_next = problem(422, INVALID, [
            {"field": "body.tags.1", "message": "String should match pattern "
                                                "'^[A-Za-z0-9._:/-]+$'"}])
        edit = await ui.post(f"/nonconformities/{nc['id']}/edit", {
            "etag": '"1"', "severity": "minor", "tags": "ok bad#tag"})
    assert triage.status_code == 422
    assert '<p class="error" id="e-triage-duplicate_of">No nonconformity matches “nx”.' \
        in triage.text
    assert '<p class="error" id="e-edit-tags">Tags may use letters, digits and . _ : / - ' \
           'only.</p>' in edit.text


async def test_triage_sends_duplicate_of_only_for_a_duplicate(tmp_path: Path) -> None:
    fake = FakeApi()
    nc, original = nonconformity(), str(uuid.uuid4())
    fake.ncs[nc["id"]] = nc
    async with ui_as("engineer", fake, tmp_path) as ui:
        accepted = await ui.post(f"/nonconformities/{nc['id']}/triage", {
            "etag": '"1"', "decision": "accept", "reason": "real", "duplicate_of": original})
        nc["status"] = "reported"
        await ui.post(f"/nonconformities/{nc['id']}/triage", {
            "etag": '"2"', "decision": "duplicate", "reason": "same", "duplicate_of": original})
    assert accepted.status_code == 303
    first, second = (body for _, _, body in fake.writes())
    assert first == {"decision": "accept", "reason": "real"}
    assert second == {"decision": "duplicate", "reason": "same", "duplicate_of": original}


@pytest.mark.parametrize("role", ["reporter", "verifier"])
async def test_opening_a_capa_is_not_offered_to_those_the_api_refuses(role: str,
                                                                      tmp_path: Path) -> None:
    async with ui_as(role, FakeApi(), tmp_path) as ui:
        board = await ui.get("/capas")
        form = await ui.get("/capas/new")
    assert 'href="/capas/new"' not in board.text
    assert form.status_code == 403
    assert "Opening a CAPA needs the engineer or manager role" in form.text
    assert 'action="/capas"' not in form.text and 'href="/nonconformities/new"' in form.text


@pytest.mark.parametrize("role", ["engineer", "admin"])
async def test_engineers_and_admins_get_the_open_a_capa_form(role: str, tmp_path: Path) -> None:
    async with ui_as(role, FakeApi(), tmp_path) as ui:
        assert 'href="/capas/new"' in (await ui.get("/capas")).text
        form = await ui.get("/capas/new")
    assert form.status_code == 200 and 'aria-label="Open a CAPA"' in form.text


async def test_every_form_lands_at_its_own_section(tmp_path: Path) -> None:
    fake = FakeApi()
    item = capa(status="investigating", allowed_transitions=["action_planned", "cancelled"])
    nc = nonconformity()
    fake.capas[item["id"]] = item
    fake.ncs[nc["id"]] = nc
    async with ui_as("admin", fake, tmp_path) as ui:
        pages = [await ui.get(f"/capas/{item['id']}"), await ui.get(f"/nonconformities/{nc['id']}")]
        # A row added without JavaScript: the re-rendered page is read at the form.
        added = await ui.post(f"/capas/{item['id']}/root-cause", _root_form([("a", "b")],
                                                                            "add_why"))
    assert f'action="/capas/{item["id"]}/root-cause#root-cause"' in added.text
    for page in pages:
        anchors = re.findall(r'<form method="post" action="[^"#]+#([^"]+)"', page.text)
        assert len(anchors) >= 4, anchors
        for anchor in anchors:
            assert f'id="{anchor}"' in page.text, anchor


async def test_the_root_cause_status_line_keeps_its_spaces(tmp_path: Path) -> None:
    fake = FakeApi()
    item = capa(status="investigating")
    fake.capas[item["id"]] = item
    fake.analyses[item["id"]] = root_cause(updated_by="ann", submissions=1,
                                           updated_at="2026-01-05T11:16:00Z")
    async with ui_as("engineer", fake, tmp_path) as ui:
        page = await ui.get(f"/capas/{item['id']}")
    line = re.sub(r"\s+", " ", page.text.split("data-root-cause-status>")[1].split("</p>")[0])
    assert "on 2026-01-05 11:16 · submitted once" in line


async def test_an_unknown_lesson_category_is_a_field_error_not_everything(
        tmp_path: Path) -> None:
    fake = FakeApi()
    async with ui_as("reporter", fake, tmp_path) as ui:
        fake.requests.clear()
        page = await ui.get("/lessons", category="bogus")
    assert page.status_code == 422
    assert re.search(r'id="f-category"[^>]*aria-invalid="true" aria-describedby="e-category"',
                     page.text)
    assert "There is no such cause category" in page.text
    assert not [r for r in fake.requests if r.url.path == "/v1/lessons"]
