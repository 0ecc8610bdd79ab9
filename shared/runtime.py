"""What every service runs beside its API: engine, bus, outbox relay, consumers.

A service's composition root (``services/<name>/app.py``) builds one
:class:`ServiceRuntime` from its settings and its handler table.
"""

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.bus.base import Bus
from shared.bus.kafka import KafkaBus
from shared.bus.sql import SqlBus
from shared.db import SessionFactory, create_engine, session_factory
from shared.inbox import EventConsumer, HandlerTable
from shared.relay import OutboxRelay
from shared.settings import ServiceSettings

log = logging.getLogger(__name__)


def build_bus(settings: ServiceSettings, *, client_id: str) -> Bus:
    if settings.bus == "kafka":
        return KafkaBus(bootstrap_servers=settings.kafka_bootstrap_servers, client_id=client_id,
                        namespace=settings.kafka_namespace)
    return SqlBus(url=settings.bus_database_url)


@dataclass
class Subscriptions:
    """A consumer group, the topics it reads, and its handlers by event type."""

    group: str
    topics: Sequence[str]
    handlers: HandlerTable


@dataclass
class ServiceRuntime:
    service: str
    settings: ServiceSettings
    subscriptions: Sequence[Subscriptions] = ()
    engine: AsyncEngine = field(init=False)
    sessions: SessionFactory = field(init=False)
    bus: Bus = field(init=False)
    _stop: asyncio.Event = field(init=False, default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(init=False, default_factory=list)

    async def __aenter__(self) -> "ServiceRuntime":
        self.engine = create_engine(self.settings.database_url)
        self.sessions = session_factory(self.engine)
        self.bus = build_bus(self.settings, client_id=f"capaflow-{self.service}")
        await self.bus.start()
        if self.settings.run_workers:
            self._start_workers()
        return self

    def _start_workers(self) -> None:
        relay = OutboxRelay(service=self.service, sessions=self.sessions, bus=self.bus,
                            batch_size=self.settings.outbox_batch_size,
                            poll_interval=self.settings.relay_poll_interval)
        self._tasks.append(asyncio.create_task(relay.run(self._stop), name="outbox-relay"))
        for sub in self.subscriptions:
            consumer = EventConsumer(group=sub.group, topics=sub.topics, handlers=sub.handlers,
                                     sessions=self.sessions, bus=self.bus,
                                     max_attempts=self.settings.consumer_max_attempts,
                                     retry_backoff=self.settings.consumer_retry_backoff)
            self._tasks.append(asyncio.create_task(consumer.run(self._stop),
                                                   name=f"consumer-{sub.group}"))

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        if self._tasks:
            # Workers finish their current record and exit; one stuck in a bus
            # call (say, joining a group while the coordinator is not up yet)
            # is cancelled: uncommitted work is redelivered after a restart.
            _, pending = await asyncio.wait(self._tasks, timeout=5)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self.bus.stop()
        await self.engine.dispose()

    async def check_database(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
