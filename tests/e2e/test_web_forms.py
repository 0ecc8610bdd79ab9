"""The web UI's forms against the real services (deploy/run.sh: SQLite + sql bus):
a nonconformity reported, triaged and corrected, a CAPA opened for it, the 5 Whys
drafted and submitted, an action planned and completed, effectiveness verified and
the CAPA closed with a lesson — every step through a UI form, as a browser without
JavaScript sends it, checked on the pages and in the services' APIs."""

import html
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests import evidence_samples as samples
from tests.e2e.loop import poll
from tests.e2e.web_client import WebClient
from tests.e2e.web_stack import Ui, shared_ui


@pytest.fixture(scope="module")
def ui(default_web_stack: Ui) -> Iterator[Ui]:
    # The session's shared stack (tests/e2e/web_stack.py): records of other
    # files are there too, so this file looks only at its own.
    yield from shared_ui(default_web_stack)


def hidden(page: httpx.Response, name: str, form_action: str | None = None) -> str:
    """A hidden field's value (of the form posting to ``form_action``, if given)."""
    text = page.text
    if form_action is not None:
        # The action may end in the form's section anchor ("...#root-cause").
        found_at = re.search(rf'action="{re.escape(form_action)}["#]', text)
        assert found_at, f"no form posting to {form_action}"
        start = found_at.start()
        text = text[start:text.index("</form>", start)]
    found = re.search(rf'name="{name}" value="([^"]*)"', text)
    assert found, f"no hidden {name} in {form_action}"
    return html.unescape(found.group(1))


def followed(client: WebClient, response: httpx.Response) -> tuple[str, httpx.Response]:
    """After Post/Redirect/Get: the target path and the page it shows."""
    assert response.status_code == 303, (response.status_code, response.text[:2000])
    path = response.headers["location"]
    return path, client.get(path)


def test_from_nonconformity_to_closed_capa_through_the_forms(ui: Ui) -> None:
    reporter, engineer = ui.person("reporter"), ui.person("engineer")
    verifier, manager = ui.person("verifier"), ui.person("manager")
    marker = uuid.uuid4().hex[:8]

    # Report (minor: no automatic escalation, the CAPA is opened by hand below).
    nc_path, page = followed(reporter, reporter.submit("/nonconformities", {
        "title": f"Seal leak on line 3 {marker}", "severity": "minor", "source": "internal",
        "description": "Seals leak after 2 hours at 80 C", "category": "seals",
        "tags": "seals line-3", "idempotency_key": str(uuid.uuid4())}))
    nc_id = nc_path.rsplit("/", 1)[1]
    assert f"Seal leak on line 3 {marker}" in page.text and "reported." in page.text
    # A reporter may not triage: the form is not offered.
    assert f'action="/nonconformities/{nc_id}/triage' not in page.text
    assert ui.api.call("GET", "nonconformity", f"/v1/nonconformities/{nc_id}",
                       role="engineer").json()["tags"] == ["seals", "line-3"]

    # Triage and the immediate correction, each with the ETag the page was read with.
    page = engineer.get(nc_path)
    _, page = followed(engineer, engineer.submit(f"{nc_path}/triage", {
        "etag": hidden(page, "etag", f"{nc_path}/triage"), "decision": "accept",
        "reason": "Reproduced on the test rig", "owner": "dev-engineer"}))
    assert "Triage recorded." in page.text
    _, page = followed(engineer, engineer.submit(f"{nc_path}/correction", {
        "etag": hidden(page, "etag", f"{nc_path}/correction"),
        "correction": "Replaced the seals on line 3 with stock from batch 7"}))
    assert "Replaced the seals on line 3" in page.text
    nc = ui.api.call("GET", "nonconformity", f"/v1/nonconformities/{nc_id}",
                     role="engineer").json()
    assert (nc["status"], nc["owner"]) == ("accepted", "dev-engineer")
    assert nc["correction"].startswith("Replaced the seals")

    # Open a CAPA for it (manual escalation).
    capa_path, page = followed(engineer, engineer.submit(f"{nc_path}/capa", {
        "idempotency_key": hidden(page, "idempotency_key", f"{nc_path}/capa"),
        "title": f"Seal leak on line 3 {marker}", "severity": "minor", "likelihood": "4",
        "owner": "dev-engineer", "source": "internal", "description": "", "due_date": ""}))
    capa_id = capa_path.rsplit("/", 1)[1]
    assert "opened for this nonconformity" in page.text
    assert f'href="/nonconformities/{nc_id}"' in page.text
    poll(lambda: f'href="/capas/{capa_id}"' in engineer.get(nc_path).text,
         message="the NC page links its CAPA")

    def move(client: WebClient, to: str, **fields: str) -> httpx.Response:
        _, shown = followed(client, client.submit(f"{capa_path}/transitions",
                                                  {"to": to, **fields}))
        return shown

    page = move(engineer, "investigating")
    assert "Start investigation" not in page.text
    # Planning actions waits for the submitted root cause: listed with the rule, no button.
    assert "Mark actions planned" not in page.text
    assert "<strong>Actions planned</strong>: not yet. Submit the root-cause analysis" \
        in page.text

    # 5 Whys: a draft with two levels, a row added without JavaScript, an incomplete
    # submission refused with the messages at the fields, then the submission.
    whys = [("Why does the seal leak?", "The gasket hardens"),
            ("Why does it harden?", "The compound is not rated for 80 C")]
    form: list[tuple[str, str]] = [("problem_statement", "Line 3 seals leak at 80 C")]
    for why, because in whys:
        form += [("why", why), ("because", because)]
    form += [("root_cause", ""), ("cause_category", ""), ("contributing_factors", ""),
             ("short_chain_justification", "")]
    etag = hidden(page, "etag", f"{capa_path}/root-cause")
    assert etag == '"0"'
    _, page = followed(engineer, engineer.submit(f"{capa_path}/root-cause",
                                                 [*form, ("etag", etag), ("op", "draft")]))
    assert "saved as a draft" in page.text
    saved = ui.api.call("GET", "capa", f"/v1/capas/{capa_id}/root-cause",
                        role="engineer").json()
    assert (saved["status"], len(saved["whys"])) == ("draft", 2)
    etag = hidden(page, "etag", f"{capa_path}/root-cause")

    added = engineer.submit(f"{capa_path}/root-cause", [*form, ("etag", etag),
                                                        ("op", "add_why")])
    assert added.status_code == 200 and 'id="f-why-2"' in added.text
    assert "The compound is not rated for 80 C" in added.text  # the posted text stays

    refused = engineer.submit(f"{capa_path}/root-cause", [*form, ("etag", etag),
                                                          ("op", "submit")])
    assert refused.status_code == 422
    assert 'aria-describedby="e-rc-root_cause"' in refused.text
    assert "State the root cause before submitting." in refused.text
    assert "Ask &#39;why?&#39; at least 3 times" in refused.text

    form = [f for f in form if f[0] not in ("root_cause", "cause_category")]
    form += [("why", "Why that compound?"),
             ("because", "The spec does not state the temperature"),
             ("root_cause", "The gasket specification omits the operating temperature"),
             ("cause_category", "materials_supplier")]
    _, page = followed(engineer, engineer.submit(f"{capa_path}/root-cause",
                                                 [*form, ("etag", etag), ("op", "submit")]))
    assert "Root-cause analysis submitted." in page.text
    saved = ui.api.call("GET", "capa", f"/v1/capas/{capa_id}/root-cause",
                        role="engineer").json()
    assert (saved["status"], len(saved["whys"])) == ("submitted", 3)

    # Actions: plan one, implement it, complete it with evidence.
    page = move(engineer, "action_planned")
    due = (date.today() + timedelta(days=30)).isoformat()
    _, page = followed(engineer, engineer.submit(f"{capa_path}/actions", {
        "idempotency_key": hidden(page, "idempotency_key", f"{capa_path}/actions"),
        "kind": "corrective", "description": "Add the operating temperature to spec GS-12",
        "owner": "dev-engineer", "due_date": due}))
    assert "Add the operating temperature to spec GS-12" in page.text
    page = move(engineer, "implementing")
    action_id = ui.api.call("GET", "capa", f"/v1/capas/{capa_id}/actions",
                            role="engineer").json()[0]["id"]
    action_path = f"{capa_path}/actions/{action_id}"
    missing = engineer.submit(action_path, {"etag": hidden(page, "etag", action_path),
                                            "status": "done", "completion_evidence": ""})
    assert missing.status_code == 422 and "Say what shows the action was done." in missing.text
    _, page = followed(engineer, engineer.submit(action_path, {
        "etag": hidden(page, "etag", action_path), "status": "done",
        "completion_evidence": "GS-12 rev C released (ECO-88)"}))
    assert "Action completed." in page.text and "GS-12 rev C released" in page.text

    # Effectiveness: the plan, then the verifier (not the owner) records the result.
    page = move(engineer, "verifying")
    _, page = followed(engineer, engineer.submit(f"{capa_path}/effectiveness-plan", {
        "criteria": "No seal leak on line 3 for 30 days",
        # Today (UTC): the verifier records the result at once, which the
        # service refuses before the planned check date.
        "check_date": datetime.now(UTC).date().isoformat()}))
    assert "No seal leak on line 3 for 30 days" in page.text
    page = verifier.get(capa_path)
    assert 'aria-label="Close CAPA"' not in page.text  # closing is the manager's
    _, page = followed(verifier, verifier.submit(f"{capa_path}/verifications", {
        "idempotency_key": hidden(page, "idempotency_key", f"{capa_path}/verifications"),
        "result": "effective", "evidence": "30 days of line data, 0 leaks"}))
    assert "30 days of line data, 0 leaks" in page.text

    # Close: without the lesson the API refuses and says so; with it, closed.
    refused = manager.submit(f"{capa_path}/transitions", {"to": "closed", "lesson": "",
                                                           "lesson_tags": "", "reason": ""})
    assert refused.status_code == 422 and "lessons-learned record" in refused.text
    page = move(manager, "closed", lesson="State the operating temperature in every spec",
                lesson_tags="seals specifications", reason="verified effective")
    assert "This CAPA is closed" in page.text and "effectiveness verified" in page.text
    # The closed CAPA's page shows the lesson it published.
    assert 'id="h-lesson"' in page.text
    assert "State the operating temperature in every spec" in page.text
    capa = ui.api.call("GET", "capa", f"/v1/capas/{capa_id}", role="reporter").json()
    assert capa["status"] == "closed" and capa["cause_category"] == "materials_supplier"
    lessons = ui.api.call("GET", "capa", "/v1/lessons", role="reporter",
                          params={"tag": "seals"}).json()["items"]
    assert any(lesson["capa_id"] == capa_id for lesson in lessons)
    # The nonconformity service closes the NC when it reads capa.closed.
    poll(lambda: ui.api.call("GET", "nonconformity", f"/v1/nonconformities/{nc_id}",
                             role="reporter").json()["status"] == "closed",
         message="the NC closed with its CAPA")
    assert "Closed with" in reporter.get(nc_path).text


def _investigating_capa(ui: Ui, title: str) -> str:
    capa: dict[str, Any] = ui.api.call("POST", "capa", "/v1/capas", role="engineer", json={
        "title": title, "severity": "minor", "owner": "dev-engineer"}).json()
    ui.api.call("POST", "capa", f"/v1/capas/{capa['id']}/transitions", role="engineer",
                json={"to": "investigating"})
    return str(capa["id"])


def test_a_second_save_of_the_same_5_whys_shows_the_conflict(ui: Ui) -> None:
    capa_path = f"/capas/{_investigating_capa(ui, 'Label printer skips lines')}"
    ann, bob = ui.person("engineer"), ui.person("engineer")
    ann_page, bob_page = ann.get(capa_path), bob.get(capa_path)
    action = f"{capa_path}/root-cause"

    def draft(etag: str, problem: str) -> list[tuple[str, str]]:
        return [("etag", etag), ("problem_statement", problem), ("why", "Why?"),
                ("because", "Because."), ("root_cause", ""), ("cause_category", ""),
                ("contributing_factors", ""), ("short_chain_justification", ""),
                ("op", "draft")]

    first = ann.submit(action, draft(hidden(ann_page, "etag", action), "Ann: ribbon slips"))
    assert first.status_code == 303
    second = bob.submit(action, draft(hidden(bob_page, "etag", action), "Bob: head is dirty"))
    assert second.status_code == 412
    assert "Someone else saved this root-cause analysis first" in second.text
    assert "Bob: head is dirty" in second.text       # Bob's text is kept in the form
    assert "Ann: ribbon slips" in second.text        # and the saved version is shown
    # The form now carries the current version: saving again knowingly replaces it.
    assert hidden(second, "etag", action) == '"1"'
    again = bob.submit(action, draft('"1"', "Bob: head is dirty"))
    assert again.status_code == 303
    saved = ui.api.call("GET", "capa", f"/v1{capa_path}/root-cause", role="engineer").json()
    assert saved["problem_statement"] == "Bob: head is dirty"


def test_refusals_in_plain_words_and_html_pages_never_json(ui: Ui) -> None:
    """Against the real APIs' wording: a half-filled why row, a session that ended
    while a form was sent, an unknown address and a reload of a form address."""
    capa_path = f"/capas/{_investigating_capa(ui, 'Barcode reader misreads')}"
    engineer = ui.person("engineer")
    action = f"{capa_path}/root-cause"
    etag = hidden(engineer.get(capa_path), "etag", action)
    rows = [("why", "Why misreads?"), ("because", "Dirty lens"), ("why", ""), ("because", ""),
            ("why", "Why dirty?"), ("because", "")]
    refused = engineer.submit(action, [("etag", etag), ("problem_statement", "Misreads"),
                                       *rows, ("op", "draft")])
    assert refused.status_code == 422, refused.text[:2000]
    assert "Why 3 needs its answer (Because 3) — or remove the row." in refused.text
    assert "String should" not in refused.text and "see errors for each field" not in refused.text

    # The form's address reloaded (GET) is the CAPA's page, not a 405 in JSON.
    assert engineer.get(action).headers["location"] == capa_path
    missing = engineer.get("/nonesuch")
    assert missing.status_code == 404 and "Page not found" in missing.text

    # The session ends (here: signed out), then a form is sent: back to sign-in, told
    # so, and after signing in on the CAPA page.
    engineer.http.post("/sign-out", data={"csrf_token": engineer.csrf})
    lost = engineer.submit(action, [("etag", etag), ("op", "draft")])
    assert lost.status_code == 303
    page = engineer.get(lost.headers["location"])
    assert "Your session ended; sign in again. What you were sending was not saved." in page.text
    signed = engineer.sign_in(ui.keys["engineer"], next_path=capa_path)
    assert signed.headers["location"] == capa_path


def test_evidence_files_through_the_upload_forms(ui: Ui) -> None:
    """A file attached on the NC page and on a CAPA's action, listed there and
    downloaded through the UI byte for byte as an attachment; a refused file is
    said at the form, on the page."""
    engineer, reporter = ui.person("engineer"), ui.person("reporter")
    nc = ui.api.call("POST", "nonconformity", "/v1/nonconformities", role="reporter",
                     json={"title": "Torn label on pallet 9", "severity": "minor"}).json()
    nc_path = f"/nonconformities/{nc['id']}"
    page = engineer.get(nc_path)
    assert 'enctype="multipart/form-data"' in page.text
    assert f'action="{nc_path}/evidence' not in reporter.get(nc_path).text  # may not attach

    photo = samples.png(uuid.uuid4().bytes)
    _, page = followed(engineer, engineer.upload(f"{nc_path}/evidence", "Etikett Palette 9.png",
                                                 photo, "image/png"))
    assert "Evidence attached." in page.text and "Etikett Palette 9.png" in page.text
    [reference] = ui.api.call("GET", "nonconformity", f"/v1/nonconformities/{nc['id']}",
                              role="reporter").json()["attachments"]
    link = f"{nc_path}/evidence/{reference['id']}"
    assert f'href="{link}"' in page.text
    download = reporter.get(link)
    assert download.status_code == 200 and download.content == photo
    assert download.headers["content-type"] == "image/png"
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in download.headers["content-security-policy"]

    # A file whose bytes are not what it says: the page says why, nothing is attached.
    refused = engineer.upload(f"{nc_path}/evidence", "report.pdf", b"just text", "application/pdf")
    assert refused.status_code == 422 and "text/html" in refused.headers["content-type"]
    assert "The file was not attached" in refused.text and "plain text" in refused.text

    capa_id = _investigating_capa(ui, "Torn labels on pallets")
    action = ui.api.call("POST", "capa", f"/v1/capas/{capa_id}/actions", role="engineer", json={
        "kind": "corrective", "description": "Change the label stock", "owner": "dev-engineer",
        "due_date": (date.today() + timedelta(days=30)).isoformat()}).json()
    capa_path = f"/capas/{capa_id}"
    spec = samples.pdf()
    _, page = followed(engineer, engineer.upload(
        f"{capa_path}/actions/{action['id']}/evidence", "label stock spec.pdf", spec,
        "application/pdf"))
    assert "Evidence attached." in page.text and "label stock spec.pdf" in page.text
    [listed] = ui.api.call("GET", "capa", f"/v1/capas/{capa_id}/actions/{action['id']}",
                           role="reporter").json()["attachments"]
    assert reporter.get(f"{capa_path}/actions/{action['id']}/evidence/{listed['id']}"
                        ).content == spec
    trail = ui.api.call("GET", "capa", f"/v1/capas/{capa_id}/audit-trail",
                        role="reporter").json()["items"]
    assert trail[-1]["action"] == "evidence_attached"
