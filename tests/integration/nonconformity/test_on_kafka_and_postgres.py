"""On real PostgreSQL and real Kafka: an escalated NC yields exactly one
``escalated`` event, however the request is retried."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shared.bus.kafka import KafkaBus
from shared.events.envelope import from_record
from tests.conftest import DatabaseFactory, eventually
from tests.integration.nonconformity.conftest import NcService, start_nc_service

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


@pytest.fixture
async def nc_on_kafka(kafka_bootstrap: str, new_postgres_database: DatabaseFactory,
                      api_keys: tuple[Path, dict[str, str]]) -> AsyncIterator[NcService]:
    async for service in start_nc_service(await new_postgres_database(), "", *api_keys,
                                          bus="kafka", kafka_bootstrap_servers=kafka_bootstrap):
        yield service


async def test_escalated_exactly_once_on_kafka(nc_on_kafka: NcService,
                                               kafka_bootstrap: str) -> None:
    nc = nc_on_kafka
    ref = f"ZD-{uuid.uuid4().hex[:8]}"
    body = {"title": "Payment provider timeouts", "severity": "critical", "external_ref": ref}
    key = {"Idempotency-Key": str(uuid.uuid4())}
    # A client retrying (same key), concurrently and after the fact, plus a second
    # integration posting the same ticket without the key.
    concurrent = await asyncio.gather(*(nc.client.post(
        "/v1/nonconformities", json=body, headers=nc.auth("reporter") | key) for _ in range(3)))
    assert {r.status_code for r in concurrent} <= {200, 201, 409}
    retried = await nc.client.post("/v1/nonconformities", json=body,
                                   headers=nc.auth("reporter") | key)
    same_ref = await nc.client.post("/v1/nonconformities", json=body | {"title": "Same ticket"},
                                    headers=nc.auth("reporter"))
    assert retried.status_code == 201 and same_ref.status_code == 200
    nc_id = retried.json()["id"]
    assert same_ref.json()["id"] == nc_id

    bus = KafkaBus(bootstrap_servers=kafka_bootstrap, client_id="nc-test-reader")
    sub = bus.subscribe(group=f"reader-{uuid.uuid4().hex[:6]}", topics=["nonconformity.events"])
    await sub.start()
    seen: list[str] = []
    try:
        async def both_arrived() -> bool:
            for record in await sub.fetch(max_records=500, timeout=0.3):
                if record.key == nc_id:
                    seen.append(from_record(record).get_type())
            return "capaflow.nonconformity.escalated.v1" in seen
        await eventually(both_arrived, timeout=60, message="escalated event on Kafka")
        # Anything published twice would arrive right behind; give it a moment's fetch.
        for record in await sub.fetch(max_records=500, timeout=2.0):
            if record.key == nc_id:
                seen.append(from_record(record).get_type())
    finally:
        await sub.stop()
        await bus.stop()
    assert seen == ["capaflow.nonconformity.reported.v1", "capaflow.nonconformity.escalated.v1"]
