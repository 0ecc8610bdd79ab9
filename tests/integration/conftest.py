"""Buses under test: the same contract runs on every one of them."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Protocol

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from cloudevents.core.v1.event import CloudEvent

from shared.bus.base import Bus, ReceivedRecord
from shared.bus.kafka import KafkaBus
from shared.bus.sql import SqlBus
from shared.db import SessionFactory, create_engine, session_factory, utcnow
from shared.events.base import Severity
from shared.events.capa import CapaOpened
from shared.events.envelope import new_event
from shared.relay import OutboxRelay
from tests.conftest import (
    BUS_MIGRATIONS,
    SERVICE_MIGRATIONS,
    DatabaseFactory,
    eventually,
    migrate,
    require_kafka,
)

BUS_KINDS = ["sql-sqlite", "sql-postgres", "kafka"]


@dataclass
class BusUnderTest:
    """Makes bus instances of one kind and topics that only one test uses."""

    kind: str
    make_bus: Callable[[], Bus]
    new_topic: Callable[[], Awaitable[str]]


async def _kafka_topic_factory(bootstrap: str) -> tuple[Callable[[], Awaitable[str]],
                                                       Callable[[], Awaitable[None]]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    await admin.start()

    async def new_topic() -> str:
        name = f"test.{uuid.uuid4().hex[:12]}"
        await admin.create_topics([NewTopic(name, num_partitions=3, replication_factor=1)])
        return name

    return new_topic, admin.close


async def _plain_topic() -> str:
    return f"test.{uuid.uuid4().hex[:12]}"


@asynccontextmanager
async def _bus_kind(kind: str, new_sqlite_database: DatabaseFactory,
                    new_postgres_database: DatabaseFactory) -> AsyncIterator[BusUnderTest]:
    buses: list[Bus] = []
    close: Callable[[], Awaitable[None]] | None = None

    if kind == "kafka":
        bootstrap = require_kafka()
        new_topic, close = await _kafka_topic_factory(bootstrap)

        def make() -> Bus:
            bus = KafkaBus(bootstrap_servers=bootstrap, client_id=f"test-{uuid.uuid4().hex[:6]}")
            buses.append(bus)
            return bus
    else:
        new_database = new_sqlite_database if kind == "sql-sqlite" else new_postgres_database
        url = await new_database()
        await migrate(BUS_MIGRATIONS, url)
        new_topic = _plain_topic

        def make() -> Bus:
            bus = SqlBus(url=url, poll_interval=0.02)
            buses.append(bus)
            return bus

    try:
        yield BusUnderTest(kind=kind, make_bus=make, new_topic=new_topic)
    finally:
        for bus in buses:
            await bus.stop()
        if close is not None:
            await close()


@pytest.fixture(params=BUS_KINDS)
async def bus_under_test(request: pytest.FixtureRequest, new_sqlite_database: DatabaseFactory,
                         new_postgres_database: DatabaseFactory) -> AsyncIterator[BusUnderTest]:
    async with _bus_kind(request.param, new_sqlite_database, new_postgres_database) as under_test:
        yield under_test

@dataclass
class Pipeline:
    """A service database (outbox + inbox tables) wired to one bus kind."""

    kind: str
    sessions: SessionFactory
    bus_under_test: BusUnderTest


PIPELINES = [("sqlite", "sql-sqlite"), ("postgres", "sql-postgres"), ("postgres", "kafka")]


@pytest.fixture(params=PIPELINES, ids=[f"{db}+{bus}" for db, bus in PIPELINES])
async def pipeline(request: pytest.FixtureRequest, new_sqlite_database: DatabaseFactory,
                   new_postgres_database: DatabaseFactory) -> AsyncIterator[Pipeline]:
    db_kind, bus_kind = request.param
    url = await (new_sqlite_database if db_kind == "sqlite" else new_postgres_database)()
    await migrate(SERVICE_MIGRATIONS, url)
    engine = create_engine(url)
    async with _bus_kind(bus_kind, new_sqlite_database, new_postgres_database) as under_test:
        try:
            yield Pipeline(kind=f"{db_kind}+{bus_kind}", sessions=session_factory(engine),
                           bus_under_test=under_test)
        finally:
            await engine.dispose()


def capa_opened_event(capa_id: uuid.UUID | None = None, title: str = "Seal leak") -> CloudEvent:
    """A capa.opened event, as the CAPA service records it, for the bus tests."""
    return new_event(service="capa", data=CapaOpened(
        capa_id=capa_id or uuid.uuid4(), number="CAPA-2026-00001", title=title,
        severity=Severity.major, opened_at=utcnow()))


class Worker(Protocol):
    async def run(self, stop: asyncio.Event) -> None: ...


@asynccontextmanager
async def running(worker: Worker) -> AsyncIterator[None]:
    """A consumer or a relay runs for the block, then stops and finishes its batch."""
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)


async def read_all(bus: Bus, topic: str, *, expect: int, settle: float = 1.0,
                    group: str | None = None) -> list[ReceivedRecord]:
    """Everything on ``topic``: at least ``expect`` records, then ``settle`` s of quiet."""
    sub = bus.subscribe(group=group or f"reader-{uuid.uuid4().hex[:6]}", topics=[topic])
    await sub.start()
    got: list[ReceivedRecord] = []
    try:
        async def enough() -> bool:
            got.extend(await sub.fetch(max_records=500, timeout=0.2))
            return len(got) >= expect

        await eventually(enough, interval=0, message=f"{expect} records on {topic}")
        got.extend(await sub.fetch(max_records=500, timeout=settle))
    finally:
        await sub.stop()
    return got


async def relay_all(relay: OutboxRelay) -> int:
    total = 0
    while sent := await relay.relay_once():
        total += sent
    return total
