"""The whole path on real PostgreSQL and real Kafka: a capa event published to
``capa.events`` reaches a webhook receiver, signed; the outcome is published
to ``notifications.events``."""

import uuid
from pathlib import Path

from sqlmodel import col, select
from standardwebhooks.webhooks import Webhook

from services.notifications.app import create_app
from services.notifications.settings import NotificationsSettings
from shared.bus.kafka import KafkaBus
from shared.events.catalog import CAPA_TOPIC
from shared.events.envelope import to_record
from shared.outbox import OutboxMessage
from tests.conftest import DatabaseFactory, eventually, migrate, require_kafka, running
from tests.integration.notifications.conftest import (
    NOTIFICATIONS_MIGRATIONS,
    Receiver,
    capa_opened,
    fast_settings,
)


async def test_capa_event_on_kafka_reaches_the_webhook_signed(
        new_postgres_database: DatabaseFactory, api_keys: tuple[Path, dict[str, str]],
        receiver: Receiver) -> None:
    bootstrap = require_kafka()
    url = await new_postgres_database()
    await migrate(NOTIFICATIONS_MIGRATIONS, url)
    keys_path, tokens = api_keys
    settings = NotificationsSettings(database_url=url, bus="kafka",
                                     kafka_bootstrap_servers=bootstrap,
                                     credentials_file=str(keys_path), **fast_settings())
    publisher = KafkaBus(bootstrap_servers=bootstrap, client_id=f"test-{uuid.uuid4().hex[:6]}")
    await publisher.start()
    app = create_app(settings)
    capa_id = uuid.uuid4()
    try:
        async with running(app) as client:
            created = await client.post(
                "/v1/subscriptions",
                json={"channel": "webhook", "target": receiver.url("/kafka"),
                      "filter": {"capa_id": str(capa_id)}},
                headers={"Authorization": f"Bearer {tokens['manager']}"})
            assert created.status_code == 201, created.text
            secret = created.json()["secret"]
            event = capa_opened(capa_id)
            await publisher.publish([to_record(event, CAPA_TOPIC)])

            async def arrived() -> bool:
                return len(receiver.at("/kafka")) == 1

            await eventually(arrived, timeout=60, message="webhook from a Kafka event")
            [request] = receiver.at("/kafka")
            payload = Webhook(secret).verify(request.body, request.headers)
            assert payload["id"] == event.get_id()
            assert payload["data"]["capa_id"] == str(capa_id)

            async def published() -> bool:
                async with app.state.runtime.sessions() as session:
                    sent = (await session.exec(select(OutboxMessage.sent_at).where(
                        col(OutboxMessage.event_type)
                        == "capaflow.notification.delivered.v1"))).all()
                return len(sent) == 1 and sent[0] is not None

            await eventually(published, timeout=30,
                             message="notification.delivered on notifications.events")
    finally:
        await publisher.stop()
