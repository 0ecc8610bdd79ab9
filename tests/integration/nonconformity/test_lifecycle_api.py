"""Edit, triage, correction, close and reopen over HTTP, with history and events."""

from typing import Any

import pytest

from tests.integration.nonconformity.conftest import NcService


async def _new(nc: NcService, **fields: Any) -> dict[str, Any]:
    r = await nc.report(**fields)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_patch_needs_the_current_etag(nc: NcService) -> None:
    item = await _new(nc)
    url = f"/v1/nonconformities/{item['id']}"
    read = await nc.client.get(url, headers=nc.auth("engineer"))
    assert read.headers["etag"] == '"1"'

    missing = await nc.client.patch(url, json={"category": "payments"},
                                    headers=nc.auth("engineer"))
    assert missing.status_code == 428

    ok = await nc.client.patch(url, json={"category": "payments", "reason": "triage call"},
                               headers=nc.auth("engineer") | {"If-Match": read.headers["etag"]})
    assert ok.status_code == 200, ok.text
    assert ok.json()["category"] == "payments" and ok.headers["etag"] == '"2"'

    stale = await nc.client.patch(url, json={"category": "shipping"},
                                  headers=nc.auth("manager") | {"If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.json()["current_etag"] == '"2"'
    assert (await nc.client.get(url, headers=nc.auth("engineer"))).json()["category"] == \
        "payments"
    updated = await nc.events(item["id"], "capaflow.nonconformity.updated.v1")
    assert [e["data"]["changed_fields"] for e in updated] == [["category"]]


@pytest.mark.requirement("iso9001-10.2.1a", "iso13485-8.5.2a", "iso9001-10.2.2", "cfr820-100a3")
async def test_triage_correction_and_close_without_a_capa(nc: NcService) -> None:
    item = await _new(nc, severity="minor")
    url = f"/v1/nonconformities/{item['id']}"
    triaged = await nc.client.post(f"{url}/triage", headers=nc.auth("engineer") | {
        "If-Match": '"1"'}, json={"decision": "accept", "reason": "reproducible", "owner": "bo"})
    assert triaged.status_code == 200, triaged.text
    assert triaged.json()["status"] == "accepted" and triaged.json()["owner"] == "bo"

    corrected = await nc.client.post(f"{url}/correction", headers=nc.auth("engineer"),
                                     json={"correction": "Restarted the payment worker"})
    assert corrected.json()["correction"] == "Restarted the payment worker"
    assert corrected.json()["correction_by"] == "test-engineer"

    closed = await nc.client.post(f"{url}/close", headers=nc.auth("manager"),
                                  json={"resolution": "No CAPA needed: one-off"})
    assert closed.status_code == 200 and closed.json()["status"] == "closed"

    again = await nc.client.post(f"{url}/correction", headers=nc.auth("engineer"),
                                 json={"correction": "too late"})
    assert again.status_code == 409 and again.json()["allowed"] == ["reopen"]

    reopened = await nc.client.post(f"{url}/reopen", headers=nc.auth("manager"),
                                    json={"reason": "it happened again"})
    assert reopened.json()["status"] == "reported"

    history = (await nc.client.get(f"{url}/history", headers=nc.auth("reporter"))).json()
    assert [h["action"] for h in history] == ["reported", "triaged", "correction_recorded",
                                              "closed", "reopened"]
    assert history[1]["actor"] == "test-engineer" and history[1]["reason"] == "reproducible"
    types = [e["type"].split(".")[2] for e in await nc.events(item["id"])]
    assert types == ["reported", "triaged", "correction_recorded", "closed", "reopened"]


@pytest.mark.requirement("part11-11.10f")
async def test_an_escalated_nc_closes_only_with_its_capa(nc: NcService) -> None:
    item = await _new(nc, severity="critical")
    r = await nc.client.post(f"/v1/nonconformities/{item['id']}/close",
                             headers=nc.auth("manager"), json={"resolution": "fixed"})
    assert r.status_code == 409
    assert "CAPA" in r.json()["detail"]


@pytest.mark.requirement("iso13485-8.5.2a")
async def test_triage_as_duplicate_names_an_existing_nc(nc: NcService) -> None:
    original = await _new(nc, title="Login broken")
    copy = await _new(nc, title="Cannot log in")
    url = f"/v1/nonconformities/{copy['id']}/triage"
    missing = await nc.client.post(url, headers=nc.auth("engineer") | {"If-Match": '"1"'},
                                   json={"decision": "duplicate", "reason": "same"})
    assert missing.status_code == 422
    ok = await nc.client.post(url, headers=nc.auth("engineer") | {"If-Match": '"1"'},
                              json={"decision": "duplicate", "reason": "same",
                                    "duplicate_of": original["id"]})
    assert ok.status_code == 200
    assert ok.json()["status"] == "duplicate" and ok.json()["duplicate_of"] == original["id"]
    stale = await nc.client.post(url, headers=nc.auth("engineer") | {"If-Match": '"1"'},
                                 json={"decision": "accept", "reason": "no"})
    assert stale.status_code == 412


@pytest.mark.requirement("iso9001-10.2.1b", "iso13485-8.5.2c")
async def test_raising_the_severity_escalates_once(nc: NcService) -> None:
    item = await _new(nc, severity="minor")
    url = f"/v1/nonconformities/{item['id']}"
    r = await nc.client.patch(url, json={"severity": "critical", "reason": "customers hit"},
                              headers=nc.auth("manager") | {"If-Match": '"1"'})
    assert r.status_code == 200 and r.json()["escalation_reason"] == "severity"
    r = await nc.client.patch(url, json={"severity": "major"},
                              headers=nc.auth("manager") | {"If-Match": r.headers["etag"]})
    assert r.status_code == 200
    assert len(await nc.events(item["id"], "capaflow.nonconformity.escalated.v1")) == 1


async def test_list_time_filters_and_enums_are_validated(nc: NcService) -> None:
    await _new(nc, title="Time filtered")
    ok = await nc.client.get("/v1/nonconformities", headers=nc.auth("engineer"),
                             params={"since": "2020-01-01T00:00:00", "text": "time filtered"})
    assert ok.status_code == 200 and len(ok.json()["items"]) == 1
    later = await nc.client.get("/v1/nonconformities", headers=nc.auth("engineer"),
                                params={"since": "2999-01-01T00:00:00Z"})
    assert later.json()["items"] == []
    bad = await nc.client.get("/v1/nonconformities", headers=nc.auth("engineer"),
                              params={"severity": "huge"})
    assert bad.status_code == 422
