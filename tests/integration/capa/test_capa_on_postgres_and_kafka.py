"""The CAPA service on real PostgreSQL and real Kafka."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from fastapi import FastAPI
from pydantic import SecretStr
from sqlmodel import col, select

from services.capa.app import create_app
from services.capa.settings import CapaSettings
from shared.bus.kafka import KafkaBus
from shared.db import SessionFactory, utcnow
from shared.events.base import CAPA_TOPIC, NONCONFORMITY_TOPIC, Severity
from shared.events.envelope import from_record, new_event, to_record
from shared.events.nonconformity import NonconformityEscalated
from shared.inbox import ProcessedEvent
from tests.conftest import (
    BUS_MIGRATIONS,
    SERVICE_MIGRATIONS,
    DatabaseFactory,
    eventually,
    migrate,
    require_kafka,
    running,
)
from tests.integration.capa.conftest import TEST_AUDIT_KEY, Capas, auth


async def _ensure_topics(bootstrap: str, topics: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    await admin.start()
    try:
        for topic in topics:
            try:
                await admin.create_topics([NewTopic(topic, num_partitions=3,
                                                    replication_factor=1)])
            except TopicAlreadyExistsError:
                pass
    finally:
        await admin.close()


@asynccontextmanager
async def _kafka_capa_app(url: str, bootstrap: str, keys_path: Path, namespace: str
                          ) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    # A namespace of its own: the service reads only this test's topics, not
    # the shared topics' whole history.
    settings = CapaSettings(database_url=url, bus="kafka", kafka_bootstrap_servers=bootstrap,
                            kafka_namespace=namespace, credentials_file=str(keys_path),
                            relay_poll_interval=0.05, log_json=False)
    app = create_app(settings)
    async with running(app) as client:
        yield app, client


async def test_escalation_delivered_twice_opens_one_capa_and_publishes_opened(
        new_postgres_database: DatabaseFactory,
        api_keys: tuple[Path, dict[str, str]]) -> None:
    bootstrap = require_kafka()
    url = await new_postgres_database()
    await migrate(SERVICE_MIGRATIONS, url)
    namespace = f"capa-test-{uuid.uuid4().hex[:8]}."
    await _ensure_topics(bootstrap, [namespace + NONCONFORMITY_TOPIC, namespace + CAPA_TOPIC])
    keys_path, keys = api_keys
    nc_id = uuid.uuid4()

    def escalated() -> NonconformityEscalated:
        return NonconformityEscalated(nonconformity_id=nc_id, number="NC-2026-00077",
                                      title="Checkout 5xx burst", severity=Severity.critical,
                                      source="monitoring", reason="severity",
                                      escalated_at=utcnow())

    first = new_event(service="nonconformity", data=escalated())
    second = new_event(service="nonconformity", data=escalated())
    producer = KafkaBus(bootstrap_servers=bootstrap, client_id="test-nonconformity",
                        namespace=namespace)
    async with _kafka_capa_app(url, bootstrap, keys_path, namespace) as (app, client):
        try:
            # The same event redelivered, then a second escalation of the same NC.
            await producer.publish([to_record(first, NONCONFORMITY_TOPIC),
                                    to_record(first, NONCONFORMITY_TOPIC),
                                    to_record(second, NONCONFORMITY_TOPIC)])
        finally:
            await producer.stop()
        sessions: SessionFactory = app.state.runtime.sessions
        group = app.state.settings.consumer_group

        async def both_handled() -> bool:
            async with sessions() as session:
                done = (await session.exec(select(ProcessedEvent.event_id).where(
                    col(ProcessedEvent.consumer_group) == group,
                    col(ProcessedEvent.event_id).in_([first.get_id(),
                                                      second.get_id()])))).all()
            return len(done) == 2

        await eventually(both_handled, timeout=60, message="both escalations consumed")
        listed = await client.get("/v1/capas", params={"nonconformity_id": str(nc_id)},
                                  headers=auth(keys["reporter"]))
        [capa] = listed.json()["items"]
        assert capa["nonconformity_ids"] == [str(nc_id)]

        reader = KafkaBus(bootstrap_servers=bootstrap, client_id="test-reader",
                          namespace=namespace)
        sub = reader.subscribe(group=f"reader-{uuid.uuid4().hex[:8]}", topics=[CAPA_TOPIC])
        await sub.start()
        opened: list[dict[str, object]] = []
        try:
            async def published() -> bool:
                for record in await sub.fetch(max_records=500, timeout=0.5):
                    event = from_record(record)
                    if event.get_subject() == capa["id"] \
                            and event.get_type() == "capaflow.capa.opened.v1":
                        data = event.get_data()
                        assert isinstance(data, dict)
                        assert event.get_extension("causationid") in (first.get_id(),
                                                                      second.get_id())
                        opened.append(data)
                return bool(opened)

            await eventually(published, timeout=60, interval=0,
                             message="capa.opened on capa.events")
        finally:
            await sub.stop()
            await reader.stop()
        assert opened[0]["nonconformity_id"] == str(nc_id)
        assert opened[0]["number"] == capa["number"]


async def test_workflow_and_concurrent_numbering_on_postgres(
        new_postgres_database: DatabaseFactory, new_sqlite_database: DatabaseFactory,
        api_keys: tuple[Path, dict[str, str]]) -> None:
    url = await new_postgres_database()
    bus_url = await new_sqlite_database()
    await migrate(SERVICE_MIGRATIONS, url)
    await migrate(BUS_MIGRATIONS, bus_url)
    keys_path, keys = api_keys
    settings = CapaSettings(database_url=url, bus="sql", bus_database_url=bus_url,
                            credentials_file=str(keys_path), log_json=False,
                            audit_key=SecretStr(TEST_AUDIT_KEY))
    app = create_app(settings)
    async with running(app) as client:
        capas = Capas(client=client, keys=keys, settings=settings, app=app)
        created = await asyncio.gather(*(capas.open(title=f"parallel {i}") for i in range(10)))
        sequences = sorted(int(str(c["number"]).rsplit("-", 1)[1]) for c in created)
        assert sequences == list(range(1, 11))

        capa = created[0]
        await capas.to_verifying(str(capa["id"]))
        assert (await capas.verify(str(capa["id"]))).status_code == 201
        closed = await capas.move(str(capa["id"]), "closed", role="manager",
                                  lesson={"what_to_do_differently": "Load-test first",
                                          "tags": ["checkout"]})
        assert closed.status_code == 200, closed.text
        lessons = await client.get("/v1/lessons", params={"tag": "checkout"},
                                   headers=auth(keys["reporter"]))
        assert len(lessons.json()["items"]) == 1
        check = await client.get(f"/v1/capas/{capa['id']}/audit-trail/verify",
                                 headers=auth(keys["reporter"]))
        assert check.json()["valid"] is True and check.json()["head_checked"] is True

        url_rc = f"/v1/capas/{created[1]['id']}/root-cause"

        async def edit(role: str) -> int:
            response = await client.put(url_rc, json={"status": "draft"},
                                        headers=auth(keys[role]) | {"If-Match": '"0"'})
            return response.status_code

        assert sorted(await asyncio.gather(edit("engineer"), edit("manager"))) == [200, 412]
