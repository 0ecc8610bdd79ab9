"""Quality objectives, the review pack (JSON, CSV, PDF rendered to an image) and
review meetings with decisions, through the API on SQLite and on PostgreSQL."""

import csv
import hashlib
import io
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
from sqlmodel import col, select

from services.capa.app import create_app
from services.capa.domain.objectives import METRICS
from services.capa.domain.review_pack import canonical_json
from services.capa.models import OutboxMessage
from shared.db import SessionFactory, utcnow
from tests.conftest import SERVICE_MIGRATIONS, DatabaseFactory, migrate, running
from tests.integration.capa.conftest import Capas, capa_settings

# A lesson written to break things: markup reportlab would parse, bidi overrides,
# a formula for spreadsheets, and 10 kB of it.
HOSTILE = ("=HYPERLINK(\"http://x\") <b>bold</b> <font size=90>big</font> & <br/> "
           "<script>alert(1)</script> \u202etxet desrever\u202c \u2066isolated\u2069 ")
HOSTILE = (HOSTILE * (10_000 // len(HOSTILE) + 1))[:10_000]
ARTIFACTS = Path(__file__).resolve().parents[3] / "var" / "test-artifacts"


@pytest.fixture(params=["sqlite", "postgres"])
async def review(request: pytest.FixtureRequest, new_sqlite_database: DatabaseFactory,
                 new_postgres_database: DatabaseFactory,
                 api_keys: tuple[Path, dict[str, str]]) -> AsyncIterator[Capas]:
    keys_path, keys = api_keys
    settings = await capa_settings(new_sqlite_database, keys_path)
    if request.param == "postgres":
        url = await new_postgres_database()
        await migrate(SERVICE_MIGRATIONS, url)
        settings = settings.model_copy(update={"database_url": url})
    app = create_app(settings)
    async with running(app) as client:
        yield Capas(client=client, keys=keys, settings=settings, app=app)


async def _outbox(capas: Capas, event_type: str) -> list[dict[str, Any]]:
    sessions: SessionFactory = capas.app.state.runtime.sessions
    async with sessions() as session:
        rows = (await session.exec(select(OutboxMessage.value).where(
            col(OutboxMessage.event_type) == event_type).order_by(col(OutboxMessage.id)))).all()
    return [dict(json.loads(v)["data"]) for v in rows]


def _render(pdf_bytes: bytes) -> tuple[str, Any]:
    """The PDF's text layer and its first page as a grey image (kept in
    var/test-artifacts when that exists, to look at)."""
    pdf = pdfium.PdfDocument(pdf_bytes)
    try:
        text = "\n".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
        image = pdf[0].render(scale=1).to_pil().convert("L")
    finally:
        pdf.close()
    if ARTIFACTS.is_dir():
        image.save(ARTIFACTS / "review-pack-page1.png")
    return text, image


async def _closed_with_lesson(capas: Capas, lesson: str) -> dict[str, Any]:
    capa = await capas.open(title="Gasket spec omits temperature")
    await capas.to_verifying(capa["id"])
    assert (await capas.verify(capa["id"])).status_code == 201
    closed = await capas.move(capa["id"], "closed", role="manager", reason="verified",
                              lesson={"what_to_do_differently": lesson,
                                      "tags": ["seals"]})
    assert closed.status_code == 200, closed.text
    return capa


async def test_objectives_are_written_by_managers_and_read_with_progress(
        review: Capas) -> None:
    deadline = (utcnow().date() + timedelta(days=90)).isoformat()
    body = {"title": "No overdue CAPAs", "metric": "overdue_capas", "target": 0,
            "deadline": deadline}
    refused = await review.client.post("/v1/objectives", json=body,
                                       headers=review.as_("engineer"))
    assert refused.status_code == 403
    created = await review.client.post("/v1/objectives", json=body,
                                       headers=review.as_("manager"))
    assert created.status_code == 201, created.text
    objective = created.json()
    assert created.headers["etag"] == '"1"'
    assert objective["direction"] == "at_most" and objective["unit"] == "count"
    assert objective["progress"]["state"] == "on_track"
    assert objective["progress"]["target_met"] is True
    assert len(objective["progress"]["trend"]) == 6

    for wrong, field in (({"metric": "reopen_rate", "target": 3}, "target"),
                         ({"metric": "happiness"}, "metric"),
                         ({"metric": "open_capas", "source": "audit"}, "source")):
        answer = await review.client.post("/v1/objectives", json=body | wrong,
                                          headers=review.as_("manager"))
        assert answer.status_code == 422, (wrong, answer.text)
        assert field in answer.text

    rate = await review.client.post("/v1/objectives", headers=review.as_("manager"),
                                    json=body | {"metric": "effectiveness_rate", "target": 0.9})
    assert rate.status_code == 201, rate.text
    # No schema knows the stored metric: a ratio target above 1 conflicts with it.
    assert (await review.client.patch(f"/v1/objectives/{rate.json()['id']}", json={
        "target": 3}, headers=review.as_("manager", **{"If-Match": '"1"'}))).status_code == 409
    assert (await review.client.delete(f"/v1/objectives/{rate.json()['id']}", headers=review.as_(
        "manager", **{"If-Match": '"1"'}))).status_code == 204

    url = f"/v1/objectives/{objective['id']}"
    assert (await review.client.patch(url, json={"target": 1},
                                      headers=review.as_("manager"))).status_code == 428
    assert (await review.client.patch(url, json={"target": 1}, headers=review.as_(
        "manager", **{"If-Match": '"7"'}))).status_code == 412
    assert (await review.client.patch(url, json={"target": None}, headers=review.as_(
        "manager", **{"If-Match": '"1"'}))).status_code == 422
    changed = await review.client.patch(url, json={"target": 2}, headers=review.as_(
        "manager", **{"If-Match": '"1"'}))
    assert changed.status_code == 200 and changed.json()["target"] == 2
    listed = await review.client.get("/v1/objectives", headers=review.as_("reporter"))
    assert [o["id"] for o in listed.json()["items"]] == [objective["id"]]
    assert (await review.client.delete(url, headers=review.as_(
        "manager", **{"If-Match": '"2"'}))).status_code == 204
    assert (await review.client.get(url, headers=review.as_("reporter"))).status_code == 404


async def test_the_metrics_an_objective_may_name_are_listed_from_the_domain(
        review: Capas) -> None:
    answer = await review.client.get("/v1/objective-metrics", headers=review.as_("reporter"))
    assert answer.status_code == 200, answer.text
    items = {m["name"]: m for m in answer.json()["items"]}
    assert set(items) == set(METRICS)
    assert items["effectiveness_rate"]["upper_bound"] == 1
    assert items["effectiveness_rate"]["direction"] == "at_least"
    assert items["capas_opened_per_week"]["takes_source"] is True
    assert items["open_capas"]["label"] == METRICS["open_capas"].label
    # Its own path: under /v1/objectives, PATCH would read "metrics" as an id (422).
    for method in ("PATCH", "DELETE"):
        other = await review.client.request(method, "/v1/objective-metrics",
                                            headers=review.as_("manager"))
        assert other.status_code == 405, (method, other.text)


async def test_the_pack_compares_periods_and_exports_csv_and_a_readable_pdf(
        review: Capas) -> None:
    await _closed_with_lesson(review, HOSTILE)
    registered = await review.client.post("/v1/suppliers", headers=review.as_("manager"), json={
        "code": "ACME Seals", "name": "Acme Seals Ltd", "criticality": "high"})
    assert registered.status_code == 201, registered.text
    late = await review.open(title="Label printer drift",
                             due_date=(utcnow().date() - timedelta(days=1)).isoformat())
    await review.add_action(late["id"], due_date=(utcnow().date() - timedelta(days=2))
                            .isoformat())
    await review.client.post("/v1/objectives", headers=review.as_("manager"), json={
        "title": "Close CAPAs within 45 days", "metric": "median_days_to_close",
        "target": 45, "deadline": (utcnow().date() + timedelta(days=60)).isoformat()})
    until = utcnow() + timedelta(minutes=1)
    params = {"since": (until - timedelta(days=30)).isoformat(), "until": until.isoformat()}

    answer = await review.client.get("/v1/management-review/pack", params=params,
                                     headers=review.as_("reporter"))
    assert answer.status_code == 200, answer.text
    pack = answer.json()
    assert pack["sha256"] == hashlib.sha256(canonical_json(pack)).hexdigest()
    assert answer.headers["x-pack-sha256"] == pack["sha256"]
    rows = {row["figure"]: row for row in pack["comparison"]}
    assert (rows["closed_in_period"]["current"], rows["closed_in_period"]["previous"]) == (1, 0)
    assert rows["opened_in_period"]["change"] == 2
    assert rows["overdue_at_end"]["current"] == 1
    assert pack["figures"]["closed_in_period"] == 1
    assert pack["previous_period"]["until"] == pack["period"]["since"]
    assert [c["number"] for c in pack["open_capas"]["items"]] == [late["number"]]
    assert pack["open_capas"]["items"][0]["overdue"] is True
    assert pack["open_actions"]["total"] == 1 and pack["open_actions"]["items"][0]["overdue"]
    assert pack["lessons"]["items"][0]["what_to_do_differently"] == HOSTILE
    assert pack["objectives"][0]["metric"] == "median_days_to_close"
    # The register's suppliers, ranked as GET /v1/suppliers/scorecards ranks them.
    cards = pack["supplier_scorecards"]["items"]
    assert [(c["supplier_code"], c["name"], c["rank"]) for c in cards] == [
        ("acme-seals", "Acme Seals Ltd", 1)]

    exported = await review.client.get("/v1/management-review/pack.csv", params=params,
                                       headers=review.as_("reporter"))
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    # A BOM so Excel reads UTF-8; the file named by the period's first and last day.
    assert exported.content.startswith(b"\xef\xbb\xbf")
    days = f"{(until - timedelta(days=30)).date()}_{until.date()}"
    assert exported.headers["content-disposition"] == (
        f'attachment; filename="management-review-{days}.csv"')
    table = list(csv.reader(io.StringIO(exported.text)))
    assert ["CAPAs closed", "1", "0", "1"] in table
    assert ["1", "acme-seals", "Acme Seals Ltd", "High", "0", "", "0", "", "", "0"] in table
    lesson_row = next(r for r in table if r and r[0].startswith("CAPA-")
                      and len(r) > 4 and r[4].startswith("'="))
    assert lesson_row[4] == "'" + HOSTILE  # the formula stays text
    # People read the CSV: labels, not the JSON's machine values.
    objective_row = next(r for r in table if r and r[0] == "Close CAPAs within 45 days")
    assert objective_row[1:3] == ["Median days to close", "at most"]
    assert "median_days_to_close" not in exported.text and "True" not in exported.text

    document = await review.client.get("/v1/management-review/pack.pdf", params=params,
                                       headers=review.as_("reporter"))
    assert document.status_code == 200, document.text
    assert document.headers["content-type"] == "application/pdf"
    text, image = _render(document.content)
    dark = sum(image.histogram()[:128])
    assert dark > image.width * image.height // 200, "the first page is (nearly) blank"
    # Each pack is as of its request: the PDF prints its own digest, the header says it.
    assert document.headers["x-pack-sha256"] in text
    assert "CAPAs closed" in text and late["number"] in text
    assert "<b>bold</b>" in text  # shown as written, not parsed as markup
    assert "\u202e" not in text
    assert "Median days to close" in text and "median_days_to_close" not in text
    assert "at_most" not in text and "True" not in text


async def test_a_meeting_records_its_pack_and_decisions_that_open_the_follow_up(
        review: Capas) -> None:
    capa = await review.open(title="Supplier labels smudge")
    pack = (await review.client.get("/v1/management-review/pack",
                                    headers=review.as_("manager"))).json()
    due = (utcnow().date() + timedelta(days=30)).isoformat()
    body = {
        "held_on": utcnow().date().isoformat(),
        "attendees": ["quality-manager", "Anna Berg (external auditor)"],
        "pack": {"since": pack["period"]["since"], "until": pack["period"]["until"],
                 "sha256": pack["sha256"]},
        "notes": "Repeat rate rising on line 3.",
        "decisions": [
            {"text": "Open a CAPA on line 3 repeat seal leaks", "owner": "ops-lead",
             "due_date": due, "follow_up": {"opens": "capa", "severity": "major",
                                            "title": "Repeat seal leaks on line 3"}},
            {"text": "Add an incoming inspection of labels", "owner": "qa-lead",
             "due_date": due, "follow_up": {"opens": "action", "capa_id": capa["id"],
                                            "kind": "preventive",
                                            "description": "Inspect 5 labels per lot"}},
            {"text": "Budget a second gasket supplier", "owner": "ops-lead",
             "due_date": due},
        ]}
    assert (await review.client.post("/v1/management-reviews", json=body,
                                     headers=review.as_("engineer"))).status_code == 403
    unknown = body | {"decisions": [body["decisions"][0] | {"follow_up": {
        "opens": "supplier", "title": "x"}}]}
    assert (await review.client.post("/v1/management-reviews", json=unknown,
                                     headers=review.as_("manager"))).status_code == 422
    recorded = await review.client.post("/v1/management-reviews", json=body,
                                        headers=review.as_("manager"))
    assert recorded.status_code == 201, recorded.text
    meeting = recorded.json()
    assert meeting["attendees"] == ["quality-manager", "Anna Berg (external auditor)"]
    assert meeting["pack"]["sha256"] == pack["sha256"]
    opened, added, plain = meeting["decisions"]
    assert opened["capa_id"] and opened["action_id"] is None
    assert (added["capa_id"], plain["capa_id"]) == (capa["id"], None)
    assert (added["capa_number"], plain["capa_number"]) == (capa["number"], None)
    assert opened["capa_number"].startswith("CAPA-")

    new_capa = (await review.client.get(f"/v1/capas/{opened['capa_id']}",
                                        headers=review.as_("reporter"))).json()
    assert (new_capa["source"], new_capa["owner"], new_capa["due_date"]) == \
        ("management_review", "ops-lead", due)
    # Whoever works the CAPA reads the decision that opened it and where it was taken.
    assert new_capa["description"] == (f"Decided at the management review of "
                                       f"{body['held_on']}: Open a CAPA on line 3 repeat "
                                       "seal leaks")
    trail = (await review.client.get(f"/v1/capas/{opened['capa_id']}/audit-trail",
                                     headers=review.as_("reporter"))).json()["items"]
    assert [e["action"] for e in trail] == ["opened", "review_decision_linked"]
    assert trail[1]["after"]["review_id"] == meeting["id"]
    assert trail[1]["after"]["held_on"] == body["held_on"]
    actions = (await review.client.get(f"/v1/capas/{capa['id']}/actions",
                                       headers=review.as_("reporter"))).json()
    assert [(a["id"], a["owner"], a["kind"]) for a in actions] == \
        [(added["action_id"], "qa-lead", "preventive")]

    assert [e["review_id"] for e in await _outbox(
        review, "capaflow.management_review.recorded.v1")] == [meeting["id"]]
    made = await _outbox(review, "capaflow.review_decision.made.v1")
    assert [(d["sequence"], d["capa_id"]) for d in made] == \
        [(1, opened["capa_id"]), (2, capa["id"]), (3, None)]
    # What an e-mail needs to say what was decided when, and what it started.
    assert {d["held_on"] for d in made} == {meeting["held_on"]}
    assert [d["capa_number"] for d in made] == \
        [opened["capa_number"], capa["number"], None]
    assert made[0]["capa_title"] and made[2]["capa_title"] is None
    [recorded] = await _outbox(review, "capaflow.management_review.recorded.v1")
    assert recorded["decision_texts"] == [d["text"] for d in meeting["decisions"]]
    assert len(await _outbox(review, "capaflow.capa.opened.v1")) == 2
    assert len(await _outbox(review, "capaflow.capa.action_added.v1")) == 1
    got = await review.client.get(f"/v1/management-reviews/{meeting['id']}",
                                  headers=review.as_("reporter"))
    assert got.json() == meeting
    listed = await review.client.get("/v1/management-reviews", headers=review.as_("reporter"))
    assert [m["id"] for m in listed.json()["items"]] == [meeting["id"]]


async def test_a_follow_up_that_cannot_start_records_nothing(review: Capas) -> None:
    capa = await _closed_with_lesson(review, "State the temperature in every spec")
    pack = (await review.client.get("/v1/management-review/pack",
                                    headers=review.as_("manager"))).json()
    due = (utcnow().date() + timedelta(days=30)).isoformat()
    answer = await review.client.post("/v1/management-reviews", headers=review.as_("manager"),
                                      json={"held_on": utcnow().date().isoformat(),
                                            "attendees": ["qa-lead"],
                                            "pack": {k: pack["period"][k] for k in
                                                     ("since", "until")}
                                            | {"sha256": pack["sha256"]},
                                            "decisions": [
        {"text": "Open one", "owner": "qa-lead", "due_date": due,
         "follow_up": {"opens": "capa", "title": "Would be opened", "severity": "minor"}},
        {"text": "Act on a closed CAPA", "owner": "qa-lead", "due_date": due,
         "follow_up": {"opens": "action", "capa_id": capa["id"], "description": "Too late"}}]})
    assert answer.status_code == 409, answer.text
    assert await _outbox(review, "capaflow.management_review.recorded.v1") == []
    listed = await review.client.get("/v1/capas", params={"source": "management_review"},
                                     headers=review.as_("reporter"))
    assert listed.json()["items"] == []
