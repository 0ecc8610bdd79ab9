"""Trace context from the HTTP request into the events; latency metrics."""

from tests.integration.nonconformity.conftest import NcService

PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


async def test_request_trace_context_reaches_every_event(nc: NcService) -> None:
    r = await nc.client.post("/v1/nonconformities", headers=nc.auth("reporter") | {
        "traceparent": PARENT, "X-Correlation-ID": "support-ticket-77"},
        json={"title": "Traced report", "severity": "critical"})
    assert r.status_code == 201
    assert r.headers["x-correlation-id"] == "support-ticket-77"
    events = await nc.events(r.json()["id"])
    assert [e["type"].split(".")[2] for e in events] == ["reported", "escalated"]
    for event in events:
        assert event["correlationid"] == "support-ticket-77"
        assert event["traceparent"].startswith("00-0af7651916cd43dd8448eb211c80319c-")


async def test_without_headers_one_request_is_one_correlation(nc: NcService) -> None:
    r = await nc.report(severity="major")
    events = await nc.events(r.json()["id"])
    assert len({e["correlationid"] for e in events}) == 1
    assert events[0]["correlationid"] == r.headers["x-correlation-id"]


async def test_latency_histogram_by_route_template(nc: NcService) -> None:
    created = await nc.report()
    await nc.client.get(f"/v1/nonconformities/{created.json()['id']}",
                        headers=nc.auth("engineer"))
    metrics = (await nc.client.get("/metrics")).text
    assert ('capaflow_http_request_duration_seconds_count{method="GET",'
            'route="/v1/nonconformities/{nc_id}",service="nonconformity",status="200"}'
            ) in metrics
    assert "capaflow_outbox_backlog" in metrics
