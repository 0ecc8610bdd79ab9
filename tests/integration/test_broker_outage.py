"""Events committed while Kafka is down are all published, in order per key,
once it is back. Stops and starts the real broker of deploy/kafka."""

import asyncio
import subprocess
import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from shared.bus.kafka import KafkaBus
from shared.db import create_engine, session_factory
from shared.events.envelope import from_record
from shared.outbox import enqueue
from shared.relay import OutboxRelay
from tests.conftest import ROOT, SERVICE_MIGRATIONS, DatabaseFactory, eventually, migrate
from tests.integration.conftest import capa_opened_event, read_all

pytestmark = [pytest.mark.chaos, pytest.mark.kafka, pytest.mark.postgres]
KAFKA = str(ROOT / "deploy" / "kafka" / "kafka.sh")


def _kafka(command: str) -> None:
    subprocess.run([KAFKA, command], check=True, timeout=240, capture_output=True)


async def test_events_committed_while_broker_is_down_are_published_after(
        kafka_bootstrap: str, new_postgres_database: DatabaseFactory) -> None:
    url = await new_postgres_database()
    await migrate(SERVICE_MIGRATIONS, url)
    engine = create_engine(url)
    sessions = session_factory(engine)
    topic = f"test.{uuid.uuid4().hex[:12]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    await admin.close()

    bus = KafkaBus(bootstrap_servers=kafka_bootstrap, client_id="outage-test",
                   request_timeout_ms=3000)
    relay = OutboxRelay(service="capa", sessions=sessions, bus=bus, poll_interval=0.05)
    stop = asyncio.Event()
    relay_task = asyncio.create_task(relay.run(stop))
    capas = [uuid.uuid4() for _ in range(3)]
    try:
        await asyncio.to_thread(_kafka, "kill9")
        # Accepted work keeps being committed while the broker is gone.
        for step in range(20):
            async with sessions() as session, session.begin():
                for capa_id in capas:
                    enqueue(session, capa_opened_event(capa_id, title=f"step {step}"), topic=topic)
        await asyncio.sleep(1)  # let the relay fail against the dead broker at least once
        backlog, _ = await relay.measure_backlog()
        assert backlog == 60, "nothing can be marked sent while the broker is down"

        await asyncio.to_thread(_kafka, "up")

        async def drained() -> bool:
            return (await relay.measure_backlog())[0] == 0
        await eventually(drained, timeout=90, message="outbox drained after broker restart")
    finally:
        stop.set()
        await asyncio.wait_for(relay_task, timeout=30)
        await bus.stop()
        await engine.dispose()
        await asyncio.to_thread(_kafka, "up")  # never leave the suite without its broker

    reader = KafkaBus(bootstrap_servers=kafka_bootstrap, client_id="outage-reader")
    try:
        got = await read_all(reader, topic, expect=60)
    finally:
        await reader.stop()
    for capa_id in capas:
        titles = [from_record(r).get_data()["title"] for r in got  # type: ignore[index]
                  if r.key == str(capa_id)]
        # Retries may duplicate a batch, never reorder it: drop repeats, keep order.
        assert list(dict.fromkeys(titles)) == [f"step {i}" for i in range(20)]
