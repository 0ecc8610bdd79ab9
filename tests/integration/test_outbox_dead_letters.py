"""Outbox dead letters: a row the bus refuses for good is set aside (marked,
counted, logged) and everything after it is published; the tool replays it.

Kafka refuses a record in two places, both covered: the producer's own size
check (over max_request_size, 1 MiB: a row written past the record-time
check) and the broker (over the topic's max.message.bytes). The embedded sql
bus refuses only when given a limit.
"""

import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import asynccontextmanager
from typing import Any, cast

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from prometheus_client import REGISTRY
from sqlmodel import col, select

from shared import outbox_dlq
from shared.bus.base import OutgoingRecord, ReceivedRecord
from shared.bus.kafka import KafkaBus
from shared.bus.sql import SqlBus
from shared.db import SessionFactory, create_engine, session_factory
from shared.events.envelope import from_record
from shared.outbox import OutboxMessage, enqueue
from shared.relay import OutboxRelay
from tests.conftest import (
    BUS_MIGRATIONS,
    SERVICE_MIGRATIONS,
    DatabaseFactory,
    eventually,
    migrate,
    require_kafka,
)
from tests.integration.conftest import capa_opened_event, read_all, running


@asynccontextmanager
async def _service_database(new_database: DatabaseFactory) -> AsyncIterator[
        tuple[str, SessionFactory]]:
    url = await new_database()
    await migrate(SERVICE_MIGRATIONS, url)
    engine = create_engine(url)
    try:
        yield url, session_factory(engine)
    finally:
        await engine.dispose()


async def _rows(sessions: SessionFactory) -> list[OutboxMessage]:
    async with sessions() as session:
        return list((await session.exec(
            select(OutboxMessage).order_by(col(OutboxMessage.id)))).all())


async def _record(sessions: SessionFactory, topic: str, keys: list[uuid.UUID], steps: int,
                  *, big_at: int = -1, big_title: str = "", prefix: str = "step ") -> None:
    """``steps`` events per key, one transaction; key 0's event ``big_at`` is big."""
    async with sessions() as session, session.begin():
        for step in range(steps):
            for n, key in enumerate(keys):
                title = big_title if (n, step) == (0, big_at) else f"{prefix}{step}"
                enqueue(session, capa_opened_event(key, title=title), topic=topic)


def _dead_lettered_total(service: str) -> float:
    return REGISTRY.get_sample_value(
        "capaflow_outbox_dead_lettered_total",
        {"service": service, "event_type": "capaflow.capa.opened.v1"}) or 0.0


def _gauge(name: str, service: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"service": service})


def _title(record: ReceivedRecord) -> str:
    return str(cast(dict[str, Any], from_record(record).get_data())["title"])


def _titles_per_key(records: Sequence[ReceivedRecord], key: uuid.UUID) -> list[str]:
    titles = [_title(r) for r in records if r.key == str(key)]
    return list(dict.fromkeys(titles))  # a republished batch repeats; order is what counts


async def _dead_letters_appear(sessions: SessionFactory, relay: OutboxRelay,
                               expect: int) -> list[OutboxMessage]:
    """Runs the relay until every row is sent or dead-lettered."""
    async with running(relay):
        async def settled() -> bool:
            rows = await _rows(sessions)
            return all(r.sent_at or r.dead_lettered_at for r in rows)
        await eventually(settled, timeout=60, interval=0.1,
                         message="every row sent or dead-lettered")
    dead = await outbox_dlq.dead_letters(sessions)
    assert len(dead) == expect
    return dead


async def test_kafka_a_record_over_the_producer_limit_is_set_aside_and_the_rest_published(
        new_postgres_database: DatabaseFactory, caplog: pytest.LogCaptureFixture) -> None:
    bootstrap = require_kafka()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    topic = f"test.{uuid.uuid4().hex[:12]}"
    await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    await admin.close()
    service = f"svc-{uuid.uuid4().hex[:6]}"
    keys = [uuid.uuid4() for _ in range(3)]
    async with _service_database(new_postgres_database) as (_, sessions):
        await _record(sessions, topic, keys, 20, prefix="before ")
        # Written past the record-time check, as a row from before it could be.
        async with sessions() as session, session.begin():
            big = capa_opened_event(keys[0], title="huge")
            enqueue(session, big, topic=topic)
        async with sessions() as session, session.begin():
            row = (await session.exec(select(OutboxMessage).where(
                OutboxMessage.event_id == big.get_id()))).one()
            row.value = row.value.replace(b'"huge"', json.dumps("h" * 1_200_000).encode())
        await _record(sessions, topic, keys, 5, prefix="after ")

        bus = KafkaBus(bootstrap_servers=bootstrap, client_id="test-dead-letters")
        try:
            relay = OutboxRelay(service=service, sessions=sessions, bus=bus, batch_size=10,
                                poll_interval=0.05)
            with caplog.at_level(logging.ERROR, logger="shared.relay"):
                dead = await _dead_letters_appear(sessions, relay, expect=1)
            assert dead[0].event_id == big.get_id()
            assert "MessageSizeTooLarge" in (dead[0].dead_letter_error or "")
            assert _dead_lettered_total(service) == 1
            logged = [r for r in caplog.records if r.levelno == logging.ERROR
                      and getattr(r, "event_id", None) == big.get_id()]
            assert logged and logged[0].key == str(keys[0])  # type: ignore[attr-defined]
            assert await relay.measure_backlog() == (0, 0.0)
            assert _gauge("capaflow_outbox_dead_letters", service) == 1

            got = await read_all(bus, topic, expect=75)
            for key in keys:
                # After the dead letter, its aggregate's later events went out too.
                assert _titles_per_key(got, key) == [f"before {i}" for i in range(20)] + [
                    f"after {i}" for i in range(5)]
        finally:
            await bus.stop()


async def test_kafka_broker_refusal_is_set_aside_then_replayed_once_the_topic_allows_it(
        new_postgres_database: DatabaseFactory) -> None:
    bootstrap = require_kafka()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    topic = f"test.{uuid.uuid4().hex[:12]}"
    # A broker configured below the documented event maximum.
    await admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1,
                                        topic_configs={"max.message.bytes": "20000"})])
    service = f"svc-{uuid.uuid4().hex[:6]}"
    keys = [uuid.uuid4() for _ in range(4)]
    bus = KafkaBus(bootstrap_servers=bootstrap, client_id="test-dead-letters")
    try:
        async with _service_database(new_postgres_database) as (url, sessions):
            # Within MAX_EVENT_BYTES, so recorded; over the topic's limit.
            await _record(sessions, topic, keys, 30, big_at=10, big_title="b" * 50_000)
            relay = OutboxRelay(service=service, sessions=sessions, bus=bus, batch_size=10,
                                poll_interval=0.05)
            dead = await _dead_letters_appear(sessions, relay, expect=1)
            assert "MessageSizeTooLarge" in (dead[0].dead_letter_error or "")
            assert _dead_lettered_total(service) == 1
            got = await read_all(bus, topic, expect=119)
            expected = [f"step {i}" for i in range(30)]
            assert _titles_per_key(got, keys[0]) == expected[:10] + expected[11:]
            for key in keys[1:]:
                assert _titles_per_key(got, key) == expected
            # Not looping: a pass finds nothing left to publish.
            assert await relay.relay_once() == 0

            await admin.alter_configs([ConfigResource(
                ConfigResourceType.TOPIC, topic, configs={"max.message.bytes": "1048588"})])
            assert await outbox_dlq.run(["--service", "capa", "--database-url", url,
                                         "replay", str(dead[0].id)]) == 0
            assert await outbox_dlq.dead_letters(sessions) == []

            async def published() -> bool:
                # The broker applies the new limit a moment after the change:
                # until then the row is dead-lettered again, and replayed again.
                if await outbox_dlq.dead_letters(sessions):
                    await outbox_dlq.replay(sessions, [dead[0].event_id])
                try:
                    await relay.relay_once()
                except Exception:
                    return False
                return all(r.sent_at for r in await _rows(sessions))
            await eventually(published, timeout=60, interval=0.5,
                             message="the replayed dead letter published")
            again = await read_all(bus, topic, expect=120)
            assert {_title(r)[:3] for r in again
                    if from_record(r).get_id() == dead[0].event_id} == {"bbb"}
    finally:
        await bus.stop()
        await admin.close()


async def test_sql_bus_with_a_limit_dead_letters_and_the_tool_lists_shows_discards(
        new_sqlite_database: DatabaseFactory, capsys: pytest.CaptureFixture[str]) -> None:
    bus_url = await new_sqlite_database()
    await migrate(BUS_MIGRATIONS, bus_url)
    bus = SqlBus(url=bus_url, poll_interval=0.02, max_record_bytes=8000)
    service = f"svc-{uuid.uuid4().hex[:6]}"
    key = uuid.uuid4()
    try:
        async with _service_database(new_sqlite_database) as (url, sessions):
            await _record(sessions, "capa.events", [key], 12, big_at=3, big_title="x" * 9000)
            relay = OutboxRelay(service=service, sessions=sessions, bus=bus, batch_size=5)
            dead = await _dead_letters_appear(sessions, relay, expect=1)
            got = await read_all(bus, "capa.events", expect=11, settle=0.2)
            assert _titles_per_key(got, key) == [f"step {i}" for i in range(12) if i != 3]

            base = ["--service", "capa", "--database-url", url]
            assert await outbox_dlq.run([*base, "list"]) == 0
            listed = capsys.readouterr().out.splitlines()
            assert len(listed) == 2 and listed[1].startswith(f"{dead[0].id}\t{dead[0].event_id}")
            assert await outbox_dlq.run([*base, "show", dead[0].event_id]) == 0
            shown = capsys.readouterr()
            assert "RecordRefused" in shown.out and "more bytes" in shown.err
            assert await outbox_dlq.run([*base, "replay", "999999"]) == 1

            assert await outbox_dlq.run([*base, "discard", str(dead[0].id)]) == 0
            assert await outbox_dlq.dead_letters(sessions) == []
            kept = await outbox_dlq.dead_letters(sessions, include_discarded=True)
            assert [r.id for r in kept] == [dead[0].id] and kept[0].discarded_at is not None
            await relay.measure_backlog()
            assert _gauge("capaflow_outbox_dead_letters", service) == 0
            # Discarded stays set aside: the relay does not publish it.
            assert await relay.relay_once() == 0
            assert (await _rows(sessions))[3].sent_at is None
    finally:
        await bus.stop()


class _BrokerDown:
    """A bus whose every publish fails as an unreachable broker does."""

    async def publish(self, records: Sequence[OutgoingRecord]) -> None:
        raise ConnectionError("broker unreachable")

    async def begin_publish(self, records: Sequence[OutgoingRecord], *,
                            after: Awaitable[None] | None = None) -> Awaitable[None]:
        raise ConnectionError("broker unreachable")


async def test_backlog_gauges_are_refreshed_while_every_pass_fails(
        new_sqlite_database: DatabaseFactory) -> None:
    service = f"svc-{uuid.uuid4().hex[:6]}"
    async with _service_database(new_sqlite_database) as (_, sessions):
        relay = OutboxRelay(service=service, sessions=sessions,
                            bus=_BrokerDown(), poll_interval=0.01)  # type: ignore[arg-type]
        async with running(relay):
            async def measured_empty() -> bool:
                return _gauge("capaflow_outbox_backlog", service) == 0
            await eventually(measured_empty, message="the empty backlog measured")
            async with sessions() as session, session.begin():
                for step in range(7):
                    enqueue(session, capa_opened_event(uuid.uuid4(), title=f"step {step}"),
                            topic="capa.events")

            async def measured_backlog() -> bool:
                age = _gauge("capaflow_outbox_oldest_age_seconds", service)
                return _gauge("capaflow_outbox_backlog", service) == 7 and bool(age)
            # Backoff between failing passes is at most 5 s, one measurement each.
            await eventually(measured_backlog, timeout=20,
                             message="the backlog measured while passes fail")
        assert all(r.sent_at is None for r in await _rows(sessions))
