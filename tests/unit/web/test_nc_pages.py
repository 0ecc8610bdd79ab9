"""Nonconformity pages against a fake API: inbox filters and paging, reporting,
the NC page's forms per role, CSRF, and how API refusals are shown."""

import json
from pathlib import Path

import pytest

from tests.unit.web.fake_api import FakeApi, nonconformity, problem, ui_as


async def test_inbox_passes_the_filters_and_links_the_next_page(tmp_path: Path) -> None:
    fake = FakeApi()
    nc = nonconformity(title="Checkout returns 500 for PayPal")
    fake.ncs[nc["id"]] = nc
    async with ui_as("reporter", fake, tmp_path) as ui:
        page = await ui.get("/nonconformities", status="reported", severity="bogus",
                            text="paypal", tag="paypal")
    assert page.status_code == 200
    assert "Checkout returns 500 for PayPal" in page.text
    assert f'href="/nonconformities/{nc["id"]}"' in page.text
    sent = fake.requests[-1].url.params
    assert (sent["status"], sent["text"], sent["tag"]) == ("reported", "paypal", "paypal")
    assert "severity" not in sent  # a value the API does not know is not sent
    # The next page keeps the filters and moves the cursor.
    assert 'href="/nonconformities?status=reported&amp;tag=paypal&amp;text=paypal' \
           '&amp;cursor=page-2"' in page.text


async def test_signed_out_people_are_sent_to_sign_in(tmp_path: Path) -> None:
    async with ui_as("reporter", FakeApi(), tmp_path) as ui:
        ui.http.cookies.clear()
        page = await ui.get("/nonconformities/new")
    assert page.status_code == 303 and page.headers["location"].startswith("/sign-in?next=")


async def test_reporting_needs_the_csrf_token(tmp_path: Path) -> None:
    fake = FakeApi()
    async with ui_as("reporter", fake, tmp_path) as ui:
        refused = await ui.post("/nonconformities", {"title": "Leak", "severity": "minor"},
                                csrf=False)
        assert refused.status_code == 403 and "Form expired" in refused.text
        assert fake.writes() == []
        done = await ui.post("/nonconformities", {
            "title": "Seal leak", "severity": "minor", "source": "internal",
            "tags": "seals, line-3", "links": "https://example.com/t/1",
            "occurred_at": "2026-01-02T08:30", "idempotency_key": "k-1"})
    assert done.status_code == 303
    method, path, body = fake.writes()[0]
    assert (method, path) == ("POST", "/v1/nonconformities")
    assert body["tags"] == ["seals", "line-3"] and body["occurred_at"] == "2026-01-02T08:30Z"
    assert body["links"] == [{"url": "https://example.com/t/1"}]
    posted = next(r for r in fake.requests if r.method == "POST")
    assert posted.headers["idempotency-key"] == "k-1"
    assert done.headers["location"] == f"/nonconformities/{next(iter(fake.ncs))}"


async def test_a_refused_report_shows_the_message_at_the_field(tmp_path: Path) -> None:
    async with ui_as("reporter", FakeApi(), tmp_path) as ui:
        page = await ui.post("/nonconformities", {"title": "x", "severity": "minor",
                                                  "description": "kept text"})
    assert page.status_code == 422
    assert 'aria-invalid="true" aria-describedby="e-report-title"' in page.text
    # pydantic's "String should have at least 3 characters", in plain words.
    assert '<p class="error" id="e-report-title">Needs at least 3 characters.' in page.text
    assert "String should" not in page.text
    assert "kept text" in page.text


@pytest.mark.requirement("part11-11.10g")
async def test_forms_follow_the_role(tmp_path: Path) -> None:
    fake = FakeApi()
    nc = nonconformity()
    closed = nonconformity(status="closed", number="NC-2026-00002")
    fake.ncs |= {nc["id"]: nc, closed["id"]: closed}
    async with ui_as("reporter", fake, tmp_path) as ui:
        page = await ui.get(f"/nonconformities/{nc['id']}")
        assert page.status_code == 200 and "NC-2026-00001" in page.text
        for form in ("Triage", "Record correction", "Open a CAPA", "Close nonconformity"):
            assert f'aria-label="{form}"' not in page.text
    async with ui_as("engineer", fake, tmp_path) as ui:
        page = await ui.get(f"/nonconformities/{nc['id']}")
        for form in ("Triage", "Record correction", "Open a CAPA", "Close nonconformity"):
            assert f'aria-label="{form}"' in page.text
        assert 'aria-label="Reopen nonconformity"' not in page.text
        assert 'aria-label="Reopen nonconformity"' not in (
            await ui.get(f"/nonconformities/{closed['id']}")).text
    async with ui_as("manager", fake, tmp_path) as ui:
        page = await ui.get(f"/nonconformities/{closed['id']}")
        assert 'aria-label="Reopen nonconformity"' in page.text
        assert 'aria-label="Triage"' not in page.text


async def test_closing_is_not_offered_while_a_capa_is_open(tmp_path: Path) -> None:
    fake = FakeApi()
    nc = nonconformity(capa_link="open", capa_id="c0ffee00-0000-4000-8000-000000000000",
                       capa_number="CAPA-2026-00007")
    fake.ncs[nc["id"]] = nc
    async with ui_as("engineer", fake, tmp_path) as ui:
        page = await ui.get(f"/nonconformities/{nc['id']}")
    assert 'href="/capas/c0ffee00-0000-4000-8000-000000000000">CAPA-2026-00007' in page.text
    assert 'aria-label="Close nonconformity"' not in page.text
    assert 'aria-label="Open a CAPA"' not in page.text


async def test_triage_on_a_stale_version_shows_the_conflict_and_fresh_data(
        tmp_path: Path) -> None:
    fake = FakeApi()
    nc = nonconformity()
    fake.ncs[nc["id"]] = nc
    path = f"/nonconformities/{nc['id']}"
    async with ui_as("engineer", fake, tmp_path) as ui:
        await ui.get(path)
        nc["title"], nc["version"] = "Renamed by a colleague", 2  # someone else edits
        page = await ui.post(f"{path}/triage", {"etag": '"1"', "decision": "accept",
                                                "reason": "my reasoning"})
        assert page.status_code == 412
        assert "Someone else changed this first" in page.text
        assert "Renamed by a colleague" in page.text and "my reasoning" in page.text
        assert 'name="etag" value="&#34;2&#34;"' in page.text
        sent = next(r for r in fake.requests if r.method == "POST")
        assert sent.headers["if-match"] == '"1"'
        ok = await ui.post(f"{path}/triage", {"etag": '"2"', "decision": "accept",
                                              "reason": "my reasoning", "owner": "ann"})
    assert ok.status_code == 303 and nc["status"] == "accepted" and nc["owner"] == "ann"


async def test_an_api_refusal_is_a_message_never_a_500(tmp_path: Path) -> None:
    fake = FakeApi()
    nc = nonconformity()
    fake.ncs[nc["id"]] = nc
    path = f"/nonconformities/{nc['id']}"
    async with ui_as("reporter", fake, tmp_path) as ui:
        # A reporter who sends the triage form anyway: the API's 403, shown on the page.
        page = await ui.post(f"{path}/triage", {"etag": '"1"', "decision": "accept",
                                                "reason": "x"})
        assert page.status_code == 403 and "You are not allowed to do this" in page.text
    async with ui_as("engineer", fake, tmp_path) as ui:
        fake.refuse_next = problem(409, "A closed nonconformity cannot be changed.",
                                   allowed=["reopen"])
        page = await ui.post(f"{path}/correction", {"etag": '"1"', "correction": "Fixed"})
        assert page.status_code == 409 and "A closed nonconformity cannot be changed." \
            in page.text
        missing = await ui.get("/nonconformities/not-a-uuid")
        assert missing.status_code == 404


async def test_opening_a_capa_for_the_nonconformity(tmp_path: Path) -> None:
    fake = FakeApi()
    nc = nonconformity()
    fake.ncs[nc["id"]] = nc
    async with ui_as("engineer", fake, tmp_path) as ui:
        done = await ui.post(f"/nonconformities/{nc['id']}/capa", {
            "title": "Seal leak", "severity": "major", "likelihood": "4", "owner": "ann",
            "due_date": "", "description": "", "source": "support",
            "idempotency_key": "k-2"})
    capa_id = next(iter(fake.capas))
    assert done.status_code == 303 and done.headers["location"] == f"/capas/{capa_id}"
    method, path, body = fake.writes()[0]
    assert (method, path) == ("POST", "/v1/capas")
    assert body == {"kind": "corrective", "nonconformity_id": nc["id"], "title": "Seal leak",
                    "severity": "major", "likelihood": 4, "owner": "ann", "source": "support"}


async def test_a_requested_capa_is_said_on_the_page_and_in_the_inbox(tmp_path: Path) -> None:
    fake = FakeApi()
    nc = nonconformity(status="accepted", capa_link="requested")
    fake.ncs[nc["id"]] = nc
    async with ui_as("engineer", fake, tmp_path) as ui:
        page = await ui.get(f"/nonconformities/{nc['id']}")
        inbox = await ui.get("/nonconformities")
    assert "A CAPA has been requested and is being opened." in page.text
    assert 'aria-label="Close nonconformity"' not in page.text
    assert 'aria-label="Open a CAPA"' not in page.text
    row = inbox.text.split(f'>{nc["number"]}</a>')[1].split("</tr>")[0]
    assert ">Requested<" in row


async def test_a_report_can_name_its_supplier_and_the_nc_page_shows_it(tmp_path: Path) -> None:
    fake = FakeApi()
    fake.suppliers["acme-seals"] = {"code": "acme-seals", "name": "Acme Seals GmbH"}
    async with ui_as("reporter", fake, tmp_path) as ui:
        form = await ui.get("/nonconformities/new")
        assert 'name="supplier_code"' in form.text
        # The register's suppliers are offered by name (issue 5).
        assert '<option value="acme-seals">Acme Seals GmbH (acme-seals)</option>' in form.text
        # A typo makes no phantom supplier: refused, in plain words, nothing sent.
        typo = await ui.post("/nonconformities", {"title": "Seal leaks at 80 C",
                                                  "severity": "major",
                                                  "supplier_code": "Acme Seal"})
        assert typo.status_code == 422
        assert "“Acme Seal” is not in the supplier register" in typo.text
        assert 'value="Acme Seal"' in typo.text and "Register the supplier" not in typo.text
        assert not [r for r in fake.requests if r.method == "POST"]
        await ui.post("/nonconformities", {"title": "Seal leaks at 80 C", "severity": "major",
                                           "supplier_code": "ACME Seals"})
        await ui.post("/nonconformities", {"title": "Seal leaks at 90 C", "severity": "major",
                                           "supplier_code": "acme seals gmbh"})
    sent = [json.loads(r.content)["supplier_code"] for r in fake.requests
            if r.method == "POST" and r.url.path == "/v1/nonconformities"]
    assert sent == ["acme-seals", "acme-seals"]  # by code in any case, or by its name
    nc = nonconformity(supplier_code="acme-seals")
    fake.ncs[nc["id"]] = nc
    async with ui_as("engineer", fake, tmp_path) as ui:
        page = await ui.get(f"/nonconformities/{nc['id']}")
    assert '<a href="/suppliers/acme-seals">acme-seals</a>' in page.text
