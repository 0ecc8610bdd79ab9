"""Alertmanager and Grafana webhooks: firing, repeated, re-firing, resolved,
grouped, truncated, 1,000 alerts, and their authentication."""

import base64

import pytest

from tests.integration.nonconformity.conftest import NcService, alert, alertmanager_payload

AM = "/v1/intake/alertmanager"


async def _post(nc: NcService, payload: dict, source: str = "source:alertmanager"):
    return await nc.client.post(AM, json=payload, headers=nc.auth(source))


async def _by_fingerprint(nc: NcService, fingerprint: str) -> list[dict]:
    items = (await nc.client.get("/v1/nonconformities", params={"source": "monitoring",
                                                                 "limit": 200},
                                 headers=nc.auth("engineer"))).json()["items"]
    return [i for i in items if i["fingerprint"] == fingerprint]


@pytest.mark.requirement("iso9001-10.2.1a", "cfr820-100a1")
async def test_firing_alert_opens_one_nc_with_its_link(nc: NcService) -> None:
    r = await _post(nc, alertmanager_payload(alert("fp-open", service="checkout")))
    assert r.status_code == 200, r.text
    assert len(r.json()["created"]) == 1
    [item] = await _by_fingerprint(nc, "fp-open")
    assert item["title"] == "HighErrorRate: HighErrorRate is firing"
    assert item["severity"] == "minor" and item["source"] == "monitoring"
    assert item["affected_item"] == "checkout"
    assert item["links"][0]["url"].startswith("http://prometheus.local/graph")
    assert item["reported_by"] == "alertmanager"


async def test_repeat_notification_is_not_a_new_occurrence_but_refiring_is(
        nc: NcService) -> None:
    first = alert("fp-refire", starts="2026-11-25T08:00:00Z")
    await _post(nc, alertmanager_payload(first))
    await _post(nc, alertmanager_payload(first))  # Alertmanager's repeat_interval resend
    [item] = await _by_fingerprint(nc, "fp-refire")
    assert item["occurrence_count"] == 1 and item["escalated_at"] is None

    await _post(nc, alertmanager_payload(alert("fp-refire", starts="2026-11-25T09:00:00Z")))
    [item] = await _by_fingerprint(nc, "fp-refire")
    assert item["occurrence_count"] == 2 and item["escalated_at"] is None

    third = await _post(nc, alertmanager_payload(alert("fp-refire",
                                                       starts="2026-11-25T10:00:00Z")))
    [item] = await _by_fingerprint(nc, "fp-refire")
    assert item["occurrence_count"] == 3
    assert item["escalation_reason"] == "recurrence"
    assert third.json()["escalated"] == [item["number"]]
    assert item["last_seen"] >= item["first_seen"]
    recurred = await nc.events(item["id"], "capaflow.nonconformity.recurred.v1")
    assert [e["data"]["occurrence_count"] for e in recurred] == [2, 3]
    assert len(await nc.events(item["id"], "capaflow.nonconformity.escalated.v1")) == 1

    await _post(nc, alertmanager_payload(alert("fp-refire", starts="2026-11-25T11:00:00Z")))
    assert len(await nc.events(item["id"], "capaflow.nonconformity.escalated.v1")) == 1


async def test_resolved_alert_records_its_end(nc: NcService) -> None:
    await _post(nc, alertmanager_payload(alert("fp-resolve")))
    r = await _post(nc, alertmanager_payload(alert("fp-resolve", status="resolved",
                                                   ends="2026-11-25T08:30:00Z")))
    assert len(r.json()["resolved"]) == 1
    [item] = await _by_fingerprint(nc, "fp-resolve")
    assert item["resolved_at"].startswith("2026-11-25T08:30:00")
    assert item["status"] == "reported"  # resolved by the tool is not closed by quality


async def test_grouped_and_truncated_payload(nc: NcService) -> None:
    payload = alertmanager_payload(alert("fp-g1", severity="critical"), alert("fp-g2"),
                                   alert("fp-g3", status="resolved",
                                         ends="2026-11-25T08:10:00Z"), truncated=7)
    r = await _post(nc, payload)
    assert r.status_code == 200
    result = r.json()
    assert len(result["created"]) == 3 and result["truncated_alerts"] == 7
    assert len(result["escalated"]) == 1
    [g1] = await _by_fingerprint(nc, "fp-g1")
    assert g1["truncated_alerts"] == 7 and g1["escalation_reason"] == "severity"


async def test_a_thousand_alerts_in_one_request(nc: NcService) -> None:
    alerts = [alert(f"storm-{i % 20}", starts=f"2026-11-26T0{i // 200}:00:00Z",
                    name=f"Storm{i % 20}") for i in range(1000)]
    r = await _post(nc, alertmanager_payload(*alerts))
    assert r.status_code == 200, r.text[:500]
    assert r.json()["received"] == 1000
    assert len(r.json()["created"]) == 20


async def test_grafana_contact_point(nc: NcService) -> None:
    payload = {"receiver": "capaflow", "status": "firing", "orgId": 1, "version": "1",
               "title": "[FIRING:1] Latency", "externalURL": "http://grafana.local",
               "alerts": [alert("fp-grafana", name="Latency", severity="critical") | {
                   "dashboardURL": "http://grafana.local/d/x", "panelURL": "http://g/d/x?p=1"}]}
    r = await nc.client.post("/v1/intake/grafana", json=payload,
                             headers=nc.auth("source:grafana"))
    assert r.status_code == 200, r.text
    [item] = await _by_fingerprint(nc, "fp-grafana")
    assert item["reported_by"] == "grafana" and item["severity"] == "critical"
    assert {link["title"] for link in item["links"]} == {"generator", "dashboard", "panel"}


@pytest.mark.requirement("part11-11.10h", "part11-11.10d")
async def test_monitoring_sources_authenticate(nc: NcService) -> None:
    payload = alertmanager_payload(alert("fp-auth"))
    assert (await nc.client.post(AM, json=payload)).status_code == 401
    wrong = await nc.client.post(AM, json=payload, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and "bearer" in wrong.headers["www-authenticate"].lower()
    for role in ("reporter", "manager", "admin", "source:grafana"):
        assert (await _post(nc, payload, role)).status_code == 403, role
    basic = base64.b64encode(f"alertmanager:{nc.tokens['source:alertmanager']}".encode())
    ok = await nc.client.post(AM, json=payload,
                              headers={"Authorization": f"Basic {basic.decode()}"})
    assert ok.status_code == 200
    assert (await nc.client.post(AM, json={"version": "4"},
                                 headers=nc.auth("source:alertmanager"))).status_code == 422


async def test_timestamps_without_zone_are_read_as_utc(nc: NcService) -> None:
    r = await _post(nc, alertmanager_payload(alert("fp-naive", starts="2026-11-25T07:00:00")))
    assert r.status_code == 200, r.text
    r = await _post(nc, alertmanager_payload(alert("fp-naive", status="resolved",
                                                   starts="2026-11-25T07:00:00",
                                                   ends="2026-11-25T07:50:00")))
    assert r.status_code == 200, r.text
    [item] = await _by_fingerprint(nc, "fp-naive")
    assert item["resolved_at"].startswith("2026-11-25T07:50:00")
