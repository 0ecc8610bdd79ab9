"""Support reports over HTTP: create, dedup, idempotency, bad input, lists."""

import asyncio
import uuid

import pytest

from tests.integration.nonconformity.conftest import NcService

ESCALATED = "capaflow.nonconformity.escalated.v1"


@pytest.mark.requirement("iso9001-10.2.1a", "iso13485-8.5.2a", "iso13485-8.5.2c")
async def test_report_gives_a_readable_number_and_escalates_critical(nc: NcService) -> None:
    r = await nc.report(severity="critical", external_ref="ZD-1", category="checkout",
                        affected_item="web shop", tags=["payments"], reporter="Ann (support)",
                        occurred_at="2026-11-26T07:00:00Z",
                        links=[{"url": "https://support.example/tickets/1", "title": "ticket"}])
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["number"].startswith("NC-2026-")
    assert r.headers["location"] == f"/v1/nonconformities/{body['id']}"
    assert body["escalation_reason"] == "severity" and body["capa_link"] == "requested"
    assert body["reported_by"] == "test-reporter"
    types = [e["type"] for e in await nc.events(body["id"])]
    assert types == ["capaflow.nonconformity.reported.v1", ESCALATED]


async def test_numbers_are_unique_under_concurrent_reports(nc: NcService) -> None:
    responses = await asyncio.gather(*(nc.report(title=f"Concurrent report {i}")
                                       for i in range(15)))
    numbers = [r.json()["number"] for r in responses]
    assert all(r.status_code == 201 for r in responses)
    assert len(set(numbers)) == 15


@pytest.mark.requirement("iso13485-8.5.2a")
async def test_same_source_and_external_ref_returns_the_existing_nc(nc: NcService) -> None:
    first = await nc.report(severity="major", external_ref="ZD-2")
    again = await nc.report(severity="major", external_ref="ZD-2", title="Reported twice")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert len(await nc.events(first.json()["id"], ESCALATED)) == 1
    other_source = await nc.report(severity="major", external_ref="ZD-2", source="customer")
    assert other_source.status_code == 201


async def test_idempotency_key_replays_and_refuses_another_body(nc: NcService) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    body = {"title": "Password reset mail never arrives", "severity": "major"}
    first = await nc.client.post("/v1/nonconformities", json=body,
                                 headers=nc.auth("reporter") | key)
    replay = await nc.client.post("/v1/nonconformities", json=body,
                                  headers=nc.auth("reporter") | key)
    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json()
    assert replay.headers.get("idempotent-replayed") == "true"
    other = await nc.client.post("/v1/nonconformities", json=body | {"severity": "minor"},
                                 headers=nc.auth("reporter") | key)
    assert other.status_code == 422
    assert other.headers["content-type"] == "application/problem+json"
    listed = await nc.client.get("/v1/nonconformities", params={"text": "password reset"},
                                 headers=nc.auth("reporter"))
    assert len(listed.json()["items"]) == 1
    assert len(await nc.events(first.json()["id"], ESCALATED)) == 1


async def test_bad_input_is_a_clear_4xx_and_writes_nothing(nc: NcService) -> None:
    cases = [
        ({"title": "Valid title", "severity": "huge"}, "body.severity"),
        ({"title": "Valid title", "severity": "minor", "source": "twitter"}, "body.source"),
        ({"title": 42, "severity": "minor"}, "body.title"),
        ({"title": "Valid title", "severity": "minor", "colour": "red"}, "body.colour"),
        ({"title": "Valid title", "severity": "minor", "occurred_at": "2026-11-26T07:00:00"},
         "body.occurred_at"),
        ({"title": "Valid title", "severity": "minor", "tags": ["has space"]}, "body.tags.0"),
        ({"severity": "minor"}, "body.title"),
    ]
    for body, field in cases:
        r = await nc.client.post("/v1/nonconformities", json=body, headers=nc.auth("reporter"))
        assert r.status_code == 422, body
        assert r.headers["content-type"] == "application/problem+json"
        assert field in [e["field"] for e in r.json()["errors"]], (body, r.json())
    malformed = await nc.client.post("/v1/nonconformities", content=b'{"title": "x",',
                                     headers=nc.auth("reporter") | {
                                         "content-type": "application/json"})
    assert malformed.status_code == 422
    nul = await nc.client.post("/v1/nonconformities", headers=nc.auth("reporter"),
                               json={"title": "Valid\u0000title", "severity": "minor"})
    assert nul.status_code == 422 and "NUL" in nul.json()["detail"]
    nul_query = await nc.client.get("/v1/nonconformities", params={"text": "a\x00"},
                                    headers=nc.auth("reporter"))
    assert nul_query.status_code == 422
    huge = await nc.client.post("/v1/nonconformities", content=b"x" * (5 * 1024 * 1024),
                                headers=nc.auth("reporter") | {
                                    "content-type": "application/json"})
    assert huge.status_code == 413
    assert huge.headers["content-type"] == "application/problem+json"
    assert await nc.events() == []


@pytest.mark.requirement("part11-11.10b")
async def test_list_filters_and_cursor_pagination(nc: NcService) -> None:
    tag = f"t{uuid.uuid4().hex[:6]}"
    for i in range(7):
        await nc.report(title=f"Paged report {i}", tags=[tag], category="billing",
                        severity="minor" if i % 2 else "observation")
    await nc.report(title="Another category", tags=[tag], category="shipping")

    seen: list[str] = []
    cursor = None
    while True:
        params = {"tag": tag, "category": "billing", "limit": 3} | (
            {"cursor": cursor} if cursor else {})
        page = (await nc.client.get("/v1/nonconformities", params=params,
                                    headers=nc.auth("engineer"))).json()
        seen += [item["title"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == [f"Paged report {i}" for i in range(7)]
    assert len(seen) == len(set(seen))
    minors = (await nc.client.get("/v1/nonconformities", headers=nc.auth("engineer"),
                                  params={"tag": tag, "severity": "minor"})).json()["items"]
    assert len(minors) == 4  # reports 1, 3, 5 and the shipping one
    bad = await nc.client.get("/v1/nonconformities", params={"cursor": "not-a-cursor"},
                              headers=nc.auth("engineer"))
    assert bad.status_code == 422
    too_big = await nc.client.get("/v1/nonconformities", params={"limit": 10_000},
                                  headers=nc.auth("engineer"))
    assert too_big.status_code == 422


async def test_unknown_nc_is_404_problem(nc: NcService) -> None:
    r = await nc.client.get(f"/v1/nonconformities/{uuid.uuid4()}", headers=nc.auth("manager"))
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    r = await nc.client.get("/v1/nonconformities/not-a-uuid", headers=nc.auth("manager"))
    assert r.status_code == 422


async def test_review_findings_are_clear_4xx(nc: NcService) -> None:
    """Inputs an outside review sent by mistake: each a 4xx a person can act on."""
    item = (await nc.report(title="Review target")).json()
    url = f"/v1/nonconformities/{item['id']}"
    for body in ({"title": None}, {"severity": None}, {"tags": None}):
        r = await nc.client.patch(url, json=body, headers=nc.auth("engineer") | {
            "If-Match": '"1"'})
        assert r.status_code == 422, body
    same = await nc.client.patch(url, json={}, headers=nc.auth("engineer") | {"If-Match": "1"})
    assert same.status_code == 200 and same.headers["etag"] == '"1"', "a no-op keeps the ETag"
    future = await nc.report(occurred_at="2999-01-01T00:00:00Z")
    assert future.status_code == 422
    triage = await nc.client.post(f"{url}/triage", headers=nc.auth("engineer") | {
        "If-Match": '"1"'}, json={"decision": "duplicate", "reason": "same"})
    assert triage.status_code == 422
    await nc.report(title="Discount 100% applied twice")
    wildcard = await nc.client.get("/v1/nonconformities", params={"text": "%"},
                                   headers=nc.auth("engineer"))
    assert [i["title"] for i in wildcard.json()["items"]] == ["Discount 100% applied twice"]
    forbidden = await nc.client.post(f"{url}/reopen", json={"reason": "x"},
                                     headers=nc.auth("reporter"))
    assert "admin" in forbidden.json()["required_roles"]
