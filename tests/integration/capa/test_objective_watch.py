"""The objective watch: off track and back on track announced once per transition,
with two replicas racing (SQLite, PostgreSQL) and on a real Kafka bus."""

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from services.capa.app import create_app
from services.capa.service.objective_watch import WatchReport, watch_objectives
from services.capa.settings import CapaSettings
from shared.bus.kafka import KafkaBus
from shared.db import create_engine, session_factory, utcnow
from shared.events.base import CAPA_TOPIC, NONCONFORMITY_TOPIC
from shared.events.envelope import from_record
from tests.conftest import (
    BUS_MIGRATIONS,
    SERVICE_MIGRATIONS,
    DatabaseFactory,
    eventually,
    migrate,
    require_kafka,
    running,
)
from tests.integration.capa.conftest import TEST_AUDIT_KEY, Capas
from tests.integration.capa.test_capa_on_postgres_and_kafka import _ensure_topics
from tests.integration.capa.test_management_review import _outbox

OFF = "capaflow.objective.off_track.v1"
ON = "capaflow.objective.on_track.v1"


async def _off_track_objective(capas: Capas) -> dict[str, Any]:
    """At most 0 open CAPAs with one open and no trend down: off track."""
    await capas.open(title="Seal leak on line 3")
    created = await capas.client.post("/v1/objectives", headers=capas.as_("manager"), json={
        "title": "No open CAPAs", "metric": "open_capas", "target": 0,
        "deadline": (utcnow().date() + timedelta(days=120)).isoformat()})
    assert created.status_code == 201, created.text
    objective = dict(created.json())
    assert objective["progress"]["state"] == "off_track"
    return objective


async def _relax(capas: Capas, objective: dict[str, Any]) -> None:
    moved = await capas.client.patch(
        f"/v1/objectives/{objective['id']}", json={"target": 5},
        headers=capas.as_("manager", **{"If-Match": f'"{objective["version"]}"'}))
    assert moved.status_code == 200 and moved.json()["progress"]["state"] == "on_track"


async def _race(url: str) -> list[WatchReport]:
    engines = [create_engine(url), create_engine(url)]  # two replicas' own pools
    try:
        return list(await asyncio.gather(*(watch_objectives(session_factory(e), now=utcnow())
                                           for e in engines)))
    finally:
        for engine in engines:
            await engine.dispose()


async def _replica_race(url: str, bus_url: str, keys_path: Path, keys: dict[str, str]) -> None:
    settings = CapaSettings(database_url=url, bus="sql", bus_database_url=bus_url,
                            credentials_file=str(keys_path), log_json=False,
                            audit_key=SecretStr(TEST_AUDIT_KEY),
                            objective_check_interval=3600)
    app = create_app(settings)
    async with running(app) as client:
        capas = Capas(client=client, keys=keys, settings=settings, app=app)
        objective = await _off_track_objective(capas)
        reports = await _race(url)
        assert sum(r.off_track for r in reports) == 1
        assert [e["objective_id"] for e in await _outbox(capas, OFF)] == [objective["id"]]
        [off] = await _outbox(capas, OFF)
        assert off["metric_label"] and off["unit"]  # "12.5 days" in the e-mail, not 12.5
        # Still off track: nothing new.
        assert sum(r.off_track for r in await _race(url)) == 0
        await _relax(capas, objective)
        reports = await _race(url)
        assert (sum(r.back_on_track for r in reports), sum(r.off_track for r in reports)) \
            == (1, 0)
        [back] = await _outbox(capas, ON)
        assert (back["objective_id"], back["current"], back["target"]) == \
            (objective["id"], 1.0, 5.0)
        assert len(await _outbox(capas, OFF)) == 1


async def test_two_replicas_announce_each_transition_once_on_sqlite(
        new_sqlite_database: DatabaseFactory, api_keys: tuple[Path, dict[str, str]]) -> None:
    url, bus_url = await new_sqlite_database(), await new_sqlite_database()
    await migrate(SERVICE_MIGRATIONS, url)
    await migrate(BUS_MIGRATIONS, bus_url)
    await _replica_race(url, bus_url, *api_keys)


async def test_two_replicas_announce_each_transition_once_on_postgres(
        new_postgres_database: DatabaseFactory, new_sqlite_database: DatabaseFactory,
        api_keys: tuple[Path, dict[str, str]]) -> None:
    url, bus_url = await new_postgres_database(), await new_sqlite_database()
    await migrate(SERVICE_MIGRATIONS, url)
    await migrate(BUS_MIGRATIONS, bus_url)
    await _replica_race(url, bus_url, *api_keys)


async def test_the_running_job_publishes_one_off_track_event_on_kafka(
        new_postgres_database: DatabaseFactory,
        api_keys: tuple[Path, dict[str, str]]) -> None:
    bootstrap = require_kafka()
    url = await new_postgres_database()
    await migrate(SERVICE_MIGRATIONS, url)
    namespace = f"capa-objectives-{uuid.uuid4().hex[:8]}."
    await _ensure_topics(bootstrap, [namespace + NONCONFORMITY_TOPIC, namespace + CAPA_TOPIC])
    keys_path, keys = api_keys
    # Two replicas of the service, each with its own job ticking fast, on one database.
    apps = [create_app(CapaSettings(
        database_url=url, bus="kafka", kafka_bootstrap_servers=bootstrap,
        kafka_namespace=namespace, credentials_file=str(keys_path), relay_poll_interval=0.05,
        log_json=False, objective_check_interval=0.2)) for _ in range(2)]
    reader = KafkaBus(bootstrap_servers=bootstrap, client_id="test-reader", namespace=namespace)
    sub = reader.subscribe(group=f"reader-{uuid.uuid4().hex[:8]}", topics=[CAPA_TOPIC])
    async with running(apps[0]) as client, running(apps[1]):
        capas = Capas(client=client, keys=keys, settings=apps[0].state.settings, app=apps[0])
        objective = await _off_track_objective(capas)
        await sub.start()
        seen: list[str] = []
        try:
            async def read() -> None:
                for record in await sub.fetch(max_records=500, timeout=0.5):
                    event = from_record(record)
                    if event.get_subject() == objective["id"]:
                        seen.append(event.get_type())

            async def announced_off() -> bool:
                await read()
                return OFF in seen

            await eventually(announced_off, timeout=60, interval=0,
                             message="objective.off_track on capa.events")
            await _relax(capas, objective)

            async def announced_back() -> bool:
                await read()
                return ON in seen

            await eventually(announced_back, timeout=60, interval=0,
                             message="objective.on_track on capa.events")
            await read()
            # Whatever the two jobs did meanwhile, more ticks announce nothing, and the
            # outbox holds each transition once.
            assert await _race(url) == [WatchReport(0, 0), WatchReport(0, 0)]
            assert len(await _outbox(capas, OFF)) == len(await _outbox(capas, ON)) == 1
        finally:
            await sub.stop()
            await reader.stop()
    assert seen == [OFF, ON]
