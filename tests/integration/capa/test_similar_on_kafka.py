"""The whole path on PostgreSQL and Kafka: a CAPA closed with a lesson through the
API is offered to a new CAPA whose analysis is alike, an engineer links it, and
``capa.lesson_linked`` reaches capa.events once (linking again publishes nothing)."""

import uuid
from pathlib import Path

from sqlmodel import col, select

from services.capa.models import OutboxMessage
from shared.bus.kafka import KafkaBus
from shared.db import SessionFactory
from shared.events.base import CAPA_TOPIC, NONCONFORMITY_TOPIC
from shared.events.envelope import from_record
from tests.conftest import SERVICE_MIGRATIONS, DatabaseFactory, eventually, migrate, require_kafka
from tests.integration.capa.conftest import Capas, root_cause_form
from tests.integration.capa.test_capa_on_postgres_and_kafka import (
    _ensure_topics,
    _kafka_capa_app,
)

LINKED = "capaflow.capa.lesson_linked.v1"


async def test_a_lesson_offered_and_linked_is_published_on_kafka(
        new_postgres_database: DatabaseFactory,
        api_keys: tuple[Path, dict[str, str]]) -> None:
    bootstrap = require_kafka()
    url = await new_postgres_database()
    await migrate(SERVICE_MIGRATIONS, url)
    namespace = f"capa-similar-{uuid.uuid4().hex[:8]}."
    await _ensure_topics(bootstrap, [namespace + NONCONFORMITY_TOPIC, namespace + CAPA_TOPIC])
    keys_path, keys = api_keys
    async with _kafka_capa_app(url, bootstrap, keys_path, namespace) as (app, client):
        capas = Capas(client=client, keys=keys, settings=app.state.settings, app=app)
        past = await capas.open(title="Seal leak on line 3")
        await capas.to_verifying(past["id"])
        assert (await capas.verify(past["id"])).status_code == 201
        closed = await capas.move(past["id"], "closed", role="manager", lesson={
            "what_to_do_differently": "State the operating temperature in every gasket spec",
            "tags": ["seals"]})
        assert closed.status_code == 200, closed.text

        new = await capas.open(title="Gaskets harden on line 5")
        assert (await capas.move(new["id"], "investigating")).status_code == 200
        draft = root_cause_form(status="draft", problem_statement="Line 5 gaskets harden",
                                whys=[], root_cause=None, cause_category=None)
        saved = await client.put(f"/v1/capas/{new['id']}/root-cause", json=draft,
                                 headers=capas.as_("engineer", **{"If-Match": '"0"'}))
        assert saved.status_code == 200, saved.text
        offered = await client.get("/v1/lessons/similar", params={"capa_id": new["id"]},
                                   headers=capas.as_("engineer"))
        [lesson] = [i for i in offered.json()["items"] if i["kind"] == "lesson"]
        assert lesson["capa_id"] == past["id"] and lesson["linked"] is False

        path = f"/v1/capas/{new['id']}/lesson-links"
        body = {"lesson_id": lesson["lesson_id"]}
        assert (await client.post(path, json=body, headers=capas.as_("engineer"))
                ).status_code == 201
        assert (await client.post(path, json=body, headers=capas.as_("engineer"))
                ).status_code == 200

        sessions: SessionFactory = app.state.runtime.sessions
        reader = KafkaBus(bootstrap_servers=bootstrap, client_id="test-reader",
                          namespace=namespace)
        sub = reader.subscribe(group=f"reader-{uuid.uuid4().hex[:8]}", topics=[CAPA_TOPIC])
        await sub.start()
        seen: list[dict[str, object]] = []
        try:
            async def relayed() -> bool:
                async with sessions() as session:
                    unsent = (await session.exec(select(OutboxMessage.id).where(
                        col(OutboxMessage.sent_at).is_(None)))).all()
                return not unsent

            await eventually(relayed, timeout=60, message="the outbox relayed")

            async def published() -> bool:
                records = await sub.fetch(max_records=500, timeout=0.5)
                for record in records:
                    event = from_record(record)
                    if event.get_type() == LINKED:
                        data = event.get_data()
                        assert isinstance(data, dict)
                        seen.append(data)
                # Everything relayed has been read once a fetch comes back empty.
                return bool(seen) and not records

            await eventually(published, timeout=60, interval=0,
                             message="capa.lesson_linked on capa.events")
        finally:
            await sub.stop()
            await reader.stop()
    assert len(seen) == 1
    assert seen[0]["capa_id"] == new["id"] and seen[0]["lesson_id"] == lesson["lesson_id"]
    assert seen[0]["lesson_capa_number"] == past["number"]
    assert seen[0]["linked_by"] == "test-engineer"
