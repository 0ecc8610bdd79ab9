"""Similar past lessons and root causes (GET /v1/lessons/similar) on SQLite (FTS5,
bm25) and PostgreSQL (tsvector, ts_rank): relevance order, stemming, the CAPA
itself left out, hostile and odd text; linking a lesson to a CAPA and the
management review's take-up figure."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from sqlmodel import col, select

from services.capa.models import AuditEntry, OutboxMessage
from tests.conftest import DatabaseFactory
from tests.integration.capa.conftest import Capas
from tests.integration.capa.similar_seed import (
    capa_app,
    new_id,
    seed_lesson,
    seed_root_cause,
    sessions_of,
)

SIMILAR = "/v1/lessons/similar"


@pytest.fixture(params=["sqlite", "postgres"])
async def app(request: pytest.FixtureRequest, new_sqlite_database: DatabaseFactory,
              new_postgres_database: DatabaseFactory,
              api_keys: tuple[Path, dict[str, str]]) -> AsyncIterator[Capas]:
    database = new_postgres_database if request.param == "postgres" else new_sqlite_database
    async with capa_app(database, new_sqlite_database, api_keys) as capas:
        yield capas


async def _similar(capas: Capas, status: int = 200, role: str = "reporter",
                   **params: Any) -> dict[str, Any]:
    answer = await capas.client.get(SIMILAR, params=params, headers=capas.as_(role))
    assert answer.status_code == status, answer.text
    return dict(answer.json())


async def _past(capas: Capas) -> dict[str, dict[str, Any]]:
    sessions = sessions_of(capas)
    return {
        "gateway": await seed_lesson(
            sessions, title="Payment gateway timeout at checkout",
            problem="Checkout payments failed with a gateway timeout during the sale",
            root_cause="The payment gateway client had no retry budget",
            lesson="Give every payment client a retry budget and a timeout alert",
            tags=("payments",)),
        "dns": await seed_lesson(
            sessions, title="DNS resolver timeout", problem="Internal DNS lookups timed out",
            root_cause="A single resolver without a fallback",
            lesson="Run two resolvers"),
        "labels": await seed_lesson(
            sessions, title="Label misprint on cartons",
            problem="Cartons shipped with the wrong lot label",
            root_cause="The label template was not version controlled",
            lesson="Version label templates"),
        "seal": await seed_root_cause(
            sessions, title="Seal leak on line 3", problem="Seals leak after two hours at 80 C",
            whys=[("Why does the seal leak?", "The gasket compound hardens"),
                  ("Why does it harden?", "The compound is not rated for 80 C")],
            root_cause="The gasket specification omits the operating temperature"),
        "draft": await seed_root_cause(
            sessions, title="Gasket draft", problem="Gasket cracks on line 4",
            whys=[], root_cause="", status="draft"),
    }


# 10.2.1 b): look for similar nonconformities that exist or could occur.
@pytest.mark.requirement("iso9001-10.2.1b")
async def test_the_lesson_sharing_more_words_ranks_first_and_stems_match(app: Capas) -> None:
    past = await _past(app)
    found = await _similar(app, text="Checkout payment gateway timeouts")
    numbers = [item["capa_number"] for item in found["items"]]
    # "gateway", "payment", "checkout" and "timeout" vs only "timeout" in the DNS one.
    assert numbers[:2] == [past["gateway"]["number"], past["dns"]["number"]], found
    assert past["labels"]["number"] not in numbers
    assert found["items"][0]["score"] > found["items"][1]["score"] > 0
    assert found["items"][0]["kind"] == "lesson"
    assert found["items"][0]["lesson_id"] == past["gateway"]["lesson_id"]
    assert found["terms"] == ["checkout", "payment", "gateway", "timeouts"]
    # Stemming both ways: "timeouts" found "timeout", "hardening" finds "hardens".
    assert [i["capa_number"] for i in (await _similar(app, text="timeouts"))["items"]] \
        == sorted([past["gateway"]["number"], past["dns"]["number"]],
                  key=numbers.index)
    seal = (await _similar(app, text="gasket hardening"))["items"]
    assert [(i["kind"], i["capa_number"]) for i in seal] == [
        ("root_cause", past["seal"]["number"])]  # the draft analysis is not offered
    assert seal[0]["root_cause"] == "The gasket specification omits the operating temperature"


async def test_a_capa_is_never_offered_to_itself(app: Capas) -> None:
    past = await _past(app)
    capa = await app.open(title="Payment gateway timeouts again")
    found = await _similar(app, capa_id=capa["id"])
    assert found["items"][0]["capa_number"] == past["gateway"]["number"]
    own = await _similar(app, capa_id=past["gateway"]["capa_id"], text="gateway timeout")
    assert past["gateway"]["number"] not in [i["capa_number"] for i in own["items"]]
    assert own["items"][0]["capa_number"] == past["dns"]["number"]
    seal = await _similar(app, capa_id=past["seal"]["capa_id"])
    assert past["seal"]["number"] not in [i["capa_number"] for i in seal["items"]]
    assert (await _similar(app, 404, capa_id=new_id()))["status"] == 404


@pytest.mark.parametrize("hostile", [
    '"a" OR NEAR(b', "*", "NEAR(", "gateway*", "title: gateway", "-gateway", "^gateway",
    '""""', "' OR 1=1 --", "a AND", "(((", "\\", "{gateway timeout}", "gateway + timeout"])
async def test_query_syntax_in_the_text_is_only_words(app: Capas, hostile: str) -> None:
    await _past(app)
    found = await _similar(app, text=hostile)
    assert all(set(term) - set("*\"'():^-+\\{}") for term in found["terms"])
    if "gateway" in hostile:
        assert found["items"] and found["items"][0]["title"].startswith("Payment gateway")


@pytest.mark.parametrize("odd", [
    "ﬁle timeout", "timeout\u200b\u200bgateway", "\u202egateway", "tiⓜeout 🙂",
    "Zeitüberschreitung am Gateway", "超时 网关", "e\u0301tiquette", "\ufeff", "\U0010ffff"])
async def test_odd_unicode_is_searched_or_finds_nothing(app: Capas, odd: str) -> None:
    await _past(app)
    found = await _similar(app, text=odd)
    assert isinstance(found["items"], list)


@pytest.mark.parametrize("text, word", [
    ("हिन्दी लेबल गलत छपा", "हिन्दी"),  # vowel signs and virama are marks
    ("Kartonlar İstanbul deposunda etiketlendi", "İstanbul"),
])
async def test_words_with_combining_marks_find_the_lesson(app: Capas, text: str,
                                                          word: str) -> None:
    await _past(app)
    lesson = await seed_lesson(
        sessions_of(app), title=f"Carton labels ({word})", problem=text,
        root_cause="The label template was copied by hand", lesson="Print from the template")
    found = await _similar(app, text=word)
    assert [i["capa_number"] for i in found["items"]] == [lesson["number"]], found


async def test_empty_long_nul_and_stop_word_texts(app: Capas) -> None:
    await _past(app)
    # Nothing to compare with finds nothing (no schema can tie the two parameters).
    assert await _similar(app) == {"items": [], "terms": []}
    assert await _similar(app, text="   ") == {"items": [], "terms": []}
    await _similar(app, 422, text="x" * 10_240)  # 10 kB
    await _similar(app, 422, text="gateway\x00timeout")
    await _similar(app, 422, text="gateway", limit=0)
    only_stop_words = await _similar(app, text="the of and why because was it")
    assert only_stop_words == {"items": [], "terms": []}
    # Many words: only the first ones are searched, and it still answers.
    many = await _similar(app, text=" ".join(f"word{i}" for i in range(500)) + " gateway")
    assert len(many["terms"]) == 32 and many["items"] == []


async def test_linking_a_lesson_is_idempotent_listed_and_checked(app: Capas) -> None:
    past = await _past(app)
    capa = await app.open(title="Gateway timeouts on the new checkout")
    path = f"/v1/capas/{capa['id']}/lesson-links"
    body = {"lesson_id": past["gateway"]["lesson_id"]}
    for role in ("reporter", "verifier"):
        refused = await app.client.post(path, json=body, headers=app.as_(role))
        assert refused.status_code == 403, refused.text
    first = await app.client.post(path, json=body, headers=app.as_("engineer"))
    assert first.status_code == 201, first.text
    again = await app.client.post(path, json=body, headers=app.as_("manager"))
    assert again.status_code == 200 and again.json() == first.json()
    assert first.json()["linked_by"] == "test-engineer"
    listed = await app.client.get(path, headers=app.as_("reporter"))
    assert [link["lesson_capa_number"] for link in listed.json()] == [past["gateway"]["number"]]
    found = await _similar(app, capa_id=capa["id"])
    assert [i["linked"] for i in found["items"] if i["lesson_id"] == body["lesson_id"]] == [True]
    async with sessions_of(app)() as session:
        events = (await session.exec(select(OutboxMessage.event_type))).all()
        entries = (await session.exec(select(AuditEntry.action).where(
            col(AuditEntry.capa_id) == UUID(capa["id"])))).all()
    assert list(events).count("capaflow.capa.lesson_linked.v1") == 1
    assert list(entries).count("lesson_linked") == 1
    # No such lesson, the CAPA's own lesson, no such CAPA, and a body of another shape.
    assert (await app.client.post(path, json={"lesson_id": new_id()},
                                  headers=app.as_("engineer"))).status_code == 404
    own = f"/v1/capas/{past['gateway']['capa_id']}/lesson-links"
    assert (await app.client.post(own, json=body, headers=app.as_("engineer"))).status_code \
        == 422
    assert (await app.client.post(f"/v1/capas/{new_id()}/lesson-links", json=body,
                                  headers=app.as_("engineer"))).status_code == 404
    assert (await app.client.post(path, json={"lesson_id": "gateway"},
                                  headers=app.as_("engineer"))).status_code == 422
    # A closed CAPA takes no new link (409).
    closed = f"/v1/capas/{past['dns']['capa_id']}/lesson-links"
    assert (await app.client.post(closed, json=body, headers=app.as_("engineer"))).status_code \
        == 409


async def _review(capas: Capas) -> dict[str, Any]:
    review = await capas.client.get("/v1/management-review", headers=capas.as_("manager"))
    assert review.status_code == 200, review.text
    return dict(review.json()["lesson_suggestions"])


async def test_the_review_counts_suggestions_offered_and_linked(app: Capas) -> None:
    past = await _past(app)
    capa = await app.open(title="Payment gateway timeouts at checkout again")
    # Reads that offer nothing to someone who could link: not counted.
    await _similar(app, capa_id=capa["id"], record="true")  # a reporter's
    await _similar(app, capa_id=capa["id"], record="true", role="verifier")
    await _similar(app, capa_id=capa["id"], role="engineer")  # not asked to record
    assert (await _review(app))["offered"] == 0
    offered = await _similar(app, capa_id=capa["id"], record="true", role="engineer")
    lessons = [i for i in offered["items"] if i["kind"] == "lesson"]
    assert len(lessons) == 2  # the gateway and DNS lessons
    await _similar(app, capa_id=capa["id"], record="true", role="manager")  # counted once
    await _similar(app, text="gateway timeout")  # no CAPA: nothing to count
    linked = await app.client.post(f"/v1/capas/{capa['id']}/lesson-links",
                                   json={"lesson_id": past["gateway"]["lesson_id"]},
                                   headers=app.as_("engineer"))
    assert linked.status_code == 201
    review = await app.client.get("/v1/management-review", headers=app.as_("manager"))
    assert review.json()["lesson_suggestions"] == {
        "offered": 2, "linked": 1, "capas_offered": 1, "link_rate": 0.5}
    empty = await app.client.get("/v1/management-review", headers=app.as_("manager"),
                                 params={"until": "2020-01-01T00:00:00Z"})
    assert empty.json()["lesson_suggestions"] == {
        "offered": 0, "linked": 0, "capas_offered": 0, "link_rate": None}
