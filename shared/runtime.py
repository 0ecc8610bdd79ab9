"""What every service runs beside its API: engine, bus, outbox relay, consumers,
and the service's own background jobs.

A service's composition root (``services/<name>/app.py``) hands its settings,
its handler table and its jobs to shared.http.app.service_app, which runs one
:class:`ServiceRuntime` for the app's lifetime.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

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


@dataclass(frozen=True)
class BackgroundJob:
    """A loop a service runs beside its consumers (overdue checks, webhook deliveries).

    ``run(runtime, stop)`` returns soon after ``stop`` is set; it is given
    ``grace`` seconds for that (an attempt in flight may need its deadline)
    before it is cancelled. Jobs run only where workers run (``run_workers``).
    """

    name: str
    run: Callable[["ServiceRuntime", asyncio.Event], Coroutine[Any, Any, None]]
    grace: float = 10.0


@dataclass
class ServiceRuntime:
    service: str
    settings: ServiceSettings
    subscriptions: Sequence[Subscriptions] = ()
    jobs: Sequence[BackgroundJob] = ()
    engine: AsyncEngine = field(init=False)
    sessions: SessionFactory = field(init=False)
    bus: Bus = field(init=False)
    _stop: asyncio.Event = field(init=False, default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(init=False, default_factory=list)
    _job_tasks: list[asyncio.Task[None]] = field(init=False, default_factory=list)

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
        for job in self.jobs:
            self._job_tasks.append(asyncio.create_task(job.run(self, self._stop),
                                                       name=job.name))

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        # Workers finish their current record and exit; one stuck in a bus call
        # (say, joining a group while the coordinator is not up yet) is
        # cancelled: uncommitted work is redelivered after a restart. Jobs get
        # their own grace; all of them end before the engine is disposed.
        grace = max((job.grace for job in self.jobs), default=0.0)
        await asyncio.gather(_settle(self._tasks, 5.0), _settle(self._job_tasks, grace))
        await self.bus.stop()
        await self.engine.dispose()

    @property
    def stopping(self) -> asyncio.Event:
        """Set when the app shuts down: long-lived responses (event streams) end on it."""
        return self._stop

    async def check_database(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))


async def every(interval: float, stop: asyncio.Event, tick: Callable[[], Awaitable[None]],
                *, what: str) -> None:
    """A periodic job's loop: ``tick`` now and then every ``interval`` seconds
    until ``stop``; a failing tick is logged and tried again at the next one."""
    while not stop.is_set():
        try:
            await tick()
        except Exception:
            log.warning("%s failed; retrying at the next interval", what, exc_info=True)
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except TimeoutError:
            pass


async def _settle(tasks: list[asyncio.Task[None]], timeout: float) -> None:
    """Wait up to ``timeout`` for the tasks to end, then cancel the rest."""
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
