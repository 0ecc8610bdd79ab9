"""Generic Standard Webhooks sources and internal audit findings."""

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook

from tests.conftest import DatabaseFactory
from tests.integration.nonconformity.conftest import WEBHOOK_SECRET, NcService, start_nc_service

URL = "/v1/intake/webhooks/ci"


def _signed(payload: dict, *, msg_id: str | None = None, at: datetime | None = None,
            secret: str = WEBHOOK_SECRET) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload)
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    at = at or datetime.now(UTC)
    signature = Webhook(secret).sign(msg_id, at, body)
    return body.encode(), {"webhook-id": msg_id, "webhook-timestamp": str(int(at.timestamp())),
                           "webhook-signature": signature, "content-type": "application/json"}


@pytest.mark.requirement("part11-11.10h", "cfr820-100a1")
async def test_signed_webhook_becomes_an_nc_once(nc: NcService) -> None:
    payload = {"event": {"id": "build-77", "title": "Nightly build broken", "level": "error"}}
    body, headers = _signed(payload)
    r = await nc.client.post(URL, content=body, headers=headers)
    assert r.status_code == 201, r.text
    assert r.json()["severity"] == "major" and r.json()["external_ref"] == "ci:build-77"
    assert r.json()["reported_by"] == "ci"

    # The sender's retry of this delivery (a lost answer) is a success with the same NC.
    replay = await nc.client.post(URL, content=body, headers=headers)
    assert replay.status_code == 200 and replay.json()["id"] == r.json()["id"], replay.text
    # Another body under the same webhook-id is refused, and creates nothing.
    other, other_headers = _signed({"event": {"id": "build-78", "title": "Other"}},
                                   msg_id=headers["webhook-id"])
    reused = await nc.client.post(URL, content=other, headers=other_headers)
    assert reused.status_code == 409 and "another body" in reused.json()["detail"]

    body, headers = _signed(payload)  # same event, new delivery id
    again = await nc.client.post(URL, content=body, headers=headers)
    assert again.status_code == 200 and again.json()["id"] == r.json()["id"]


@pytest.mark.requirement("part11-11.10h")
async def test_bad_signatures_and_stale_timestamps_are_refused(nc: NcService) -> None:
    payload = {"event": {"id": "x1", "title": "Something broke"}}
    body, headers = _signed(payload, secret="whsec_" + "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldA==")
    assert (await nc.client.post(URL, content=body, headers=headers)).status_code == 401
    body, headers = _signed(payload, at=datetime.now(UTC) - timedelta(minutes=10))
    assert (await nc.client.post(URL, content=body, headers=headers)).status_code == 401
    body, headers = _signed(payload)
    tampered = body.replace(b"Something", b"Nothing")
    assert (await nc.client.post(URL, content=tampered, headers=headers)).status_code == 401
    unsigned = await nc.client.post(URL, content=body, headers={"content-type":
                                                                "application/json"})
    assert unsigned.status_code == 401
    assert unsigned.headers["content-type"] == "application/problem+json"
    assert await nc.events() == []


async def test_unknown_source_and_unmappable_payload(nc: NcService) -> None:
    body, headers = _signed({"event": {"title": "x"}})
    assert (await nc.client.post("/v1/intake/webhooks/nope", content=body,
                                 headers=headers)).status_code == 404
    body, headers = _signed({"something": "else"})
    r = await nc.client.post(URL, content=body, headers=headers)
    assert r.status_code == 422 and "title" in r.json()["detail"]


@pytest.mark.requirement("cfr820-100a1", "iso9001-10.2.1b", "iso13485-8.5.2c")
async def test_major_audit_finding_escalates(nc: NcService) -> None:
    finding = {"clause": "8.5.1", "finding_type": "major_nc", "title": "Work instructions missing",
               "evidence": "Line 3 had no current work instruction", "auditor": "J. Auditor",
               "process_audited": "Assembly"}
    r = await nc.client.post("/v1/audits/IA-2026-04/findings", json=finding,
                             headers=nc.auth("verifier"))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["source"] == "audit" and body["clause"] == "8.5.1"
    assert body["audit_ref"] == "IA-2026-04" and body["severity"] == "major"
    assert body["escalation_reason"] == "audit_finding"
    escalated = await nc.events(body["id"], "capaflow.nonconformity.escalated.v1")
    assert escalated[0]["data"]["reason"] == "audit_finding"


@pytest.mark.requirement("iso13485-8.5.2c")
async def test_minor_finding_and_ofi_do_not_escalate_and_clause_is_checked(
        nc: NcService) -> None:
    base = {"title": "Calibration label faded", "evidence": "Gauge G-12", "auditor": "J. A.",
            "process_audited": "Inspection"}
    for kind in ("minor_nc", "ofi"):
        r = await nc.client.post("/v1/audits/IA-2026-05/findings", headers=nc.auth("manager"),
                                 json=base | {"clause": "7.1.5", "finding_type": kind})
        assert r.status_code == 201 and r.json()["escalated_at"] is None
    bad = await nc.client.post("/v1/audits/IA-2026-05/findings", headers=nc.auth("manager"),
                               json=base | {"clause": "8.5.x", "finding_type": "minor_nc"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "body.clause"
    bad = await nc.client.post("/v1/audits/IA-2026-05/findings", headers=nc.auth("manager"),
                               json=base | {"clause": "8.5", "finding_type": "critical"})
    assert bad.status_code == 422


async def test_malformed_webhook_bodies_are_4xx_not_500(nc: NcService) -> None:
    raw = b"\xff\xfe{not utf-8}"
    r = await nc.client.post(URL, content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 401
    body, headers = _signed({"x": 1})
    r = await nc.client.post(URL, content=body, headers=headers | {
        "webhook-signature": "garbage-without-comma"})
    assert r.status_code == 401
    text = b"hello there"
    signature = Webhook(WEBHOOK_SECRET).sign("msg_text", datetime.now(UTC), text.decode())
    r = await nc.client.post(URL, content=text, headers={
        "webhook-id": "msg_text", "webhook-timestamp": str(int(datetime.now(UTC).timestamp())),
        "webhook-signature": signature})
    assert r.status_code == 422 and "not JSON" in r.json()["detail"]
    deep = "[" * 100_000 + "]" * 100_000
    signature = Webhook(WEBHOOK_SECRET).sign("msg_deep", datetime.now(UTC), deep)
    r = await nc.client.post(URL, content=deep.encode(), headers={
        "webhook-id": "msg_deep", "webhook-timestamp": str(int(datetime.now(UTC).timestamp())),
        "webhook-signature": signature})
    assert r.status_code == 422


@pytest.fixture(params=["sqlite", "postgres"])
async def either_nc(request: pytest.FixtureRequest, nc: NcService,
                    new_postgres_database: DatabaseFactory, kafka_bootstrap: str,
                    api_keys: tuple[Path, dict[str, str]]) -> AsyncIterator[NcService]:
    """The SQLite service, or one on PostgreSQL (+ Kafka), whose column limits and
    text encoding are strict where SQLite's are not."""
    if request.param == "sqlite":
        yield nc
        return
    async for service in start_nc_service(await new_postgres_database(), "", *api_keys,
                                          bus="kafka", kafka_bootstrap_servers=kafka_bootstrap):
        yield service


async def test_a_lone_surrogate_in_a_signed_body_is_not_a_500(either_nc: NcService) -> None:
    nc = either_nc
    # json.dumps writes the escape "\\ud800"; decoding gives a string no UTF-8 can hold.
    body, headers = _signed({"event": {"id": "surrogate-1", "title": "bad \ud800 title"}})
    assert b"\\ud800" in body
    r = await nc.client.post(URL, content=body, headers=headers)
    # Stored with the replacement character, as the intake does for any text it keeps.
    assert r.status_code == 201, r.text
    assert r.json()["title"] == "bad \ufffd title"
    shown = await nc.client.get(f"/v1/nonconformities/{r.json()['id']}",
                                headers=nc.auth("engineer"))
    assert shown.status_code == 200 and shown.json()["title"] == "bad \ufffd title"


async def test_a_webhook_id_longer_than_its_column_is_accepted_and_replayable(
        either_nc: NcService) -> None:
    nc = either_nc
    payload = {"event": {"id": f"long-{uuid.uuid4().hex}", "title": "Long delivery id"}}
    body, headers = _signed(payload, msg_id="msg_" + "x" * 10_000)
    first = await nc.client.post(URL, content=body, headers=headers)
    assert first.status_code == 201, first.text
    again = await nc.client.post(URL, content=body, headers=headers)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    other, other_headers = _signed({"event": {"id": "other", "title": "Other body"}},
                                   msg_id=headers["webhook-id"])
    assert (await nc.client.post(URL, content=other, headers=other_headers)).status_code == 409
