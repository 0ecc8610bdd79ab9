"""The observed failure, on Kafka + PostgreSQL: an Alertmanager alert with a
1.5 MB description (and a 300-character label, and a javascript: link) in a
batch. It is accepted, cut to the NC's bounds, the whole batch is stored, and
the NC's events and every later one are published: nothing stalls."""

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlmodel import col, select

from services.nonconformity.domain import TRUNCATION_MARKER
from shared.bus.kafka import KafkaBus
from shared.events.envelope import from_record
from shared.outbox import OutboxMessage
from tests.conftest import DatabaseFactory, eventually
from tests.integration.nonconformity.conftest import (
    NcService,
    alert,
    alertmanager_payload,
    start_nc_service,
)

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

ESCALATED = "capaflow.nonconformity.escalated.v1"


@pytest.fixture
async def nc_on_kafka(kafka_bootstrap: str, new_postgres_database: DatabaseFactory,
                      api_keys: tuple[Path, dict[str, str]]) -> AsyncIterator[NcService]:
    async for service in start_nc_service(await new_postgres_database(), "", *api_keys,
                                          bus="kafka", kafka_bootstrap_servers=kafka_bootstrap):
        yield service


async def test_a_huge_alert_is_cut_stored_and_published_and_later_events_follow(
        nc_on_kafka: NcService, kafka_bootstrap: str) -> None:
    nc = nc_on_kafka
    huge = alert(f"fp-{uuid.uuid4().hex[:8]}", severity="critical", service="s" * 300)
    huge["annotations"]["description"] = "x" * 1_500_000
    huge["generatorURL"] = "javascript:alert(document.domain)"
    others = [alert(service="checkout") for _ in range(200)]
    response = await nc.client.post("/v1/intake/alertmanager",
                                    json=alertmanager_payload(*others[:100], huge, *others[100:]),
                                    headers=nc.auth("source:alertmanager"))
    assert response.status_code == 200, response.text[:500]
    assert len(response.json()["created"]) == 201

    found = (await nc.client.get("/v1/nonconformities", params={"source": "monitoring",
                                                                 "severity": "critical"},
                                 headers=nc.auth("engineer"))).json()["items"]
    [item] = [i for i in found if i["fingerprint"] == huge["fingerprint"]]
    assert item["description"].endswith(TRUNCATION_MARKER)
    assert len(item["description"]) <= 10_000 and len(item["affected_item"]) <= 200
    assert item["links"] == []

    # A report after the huge one: its CAPA request must not wait behind it.
    later = await nc.report(title="Checkout down", severity="critical")
    assert later.status_code == 201
    later_id = later.json()["id"]

    bus = KafkaBus(bootstrap_servers=kafka_bootstrap, client_id="nc-test-reader")
    sub = bus.subscribe(group=f"reader-{uuid.uuid4().hex[:6]}", topics=["nonconformity.events"])
    await sub.start()
    seen: set[tuple[str, str]] = set()
    try:
        async def published() -> bool:
            for record in await sub.fetch(max_records=500, timeout=0.3):
                if record.key in (item["id"], later_id):
                    seen.add((record.key, from_record(record).get_type()))
            return {(item["id"], ESCALATED), (later_id, ESCALATED)} <= seen
        await eventually(published, timeout=60, message="both NCs' escalations on Kafka")
    finally:
        await sub.stop()
        await bus.stop()
    async with nc.app.state.runtime.sessions() as session:
        dead = (await session.exec(select(OutboxMessage.id).where(
            col(OutboxMessage.dead_lettered_at).is_not(None)))).all()
    assert dead == []
