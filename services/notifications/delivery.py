"""The delivery worker: sends due deliveries, retries, dead-letters.

Order: deliveries of one (subscription, subject) — one NC or CAPA at one
subscriber — go out one at a time in event order; everything else runs
concurrently, so a slow or dead endpoint only holds up its own queue. The
schedule lives in the database (``next_attempt_at``) and survives restarts.
Run one worker per database (like the outbox relay).

New deliveries are announced by the matcher of this process after its commit
(:meth:`DeliveryWorker.wake`), so they start at once and only their own rows
are read. Every ``delivery_poll_interval`` a full dispatch still looks at
every queue: retries that came due, test sends and replays queued through the
API, deliveries queued before a restart.
"""

import asyncio
import logging
from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

import httpx
from prometheus_client import Counter
from sqlalchemy import and_, exists, func
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import SessionFactory, utcnow

from .attempts import Due, Key, due_query, next_due, send
from .domain import AttemptResult, DeliveryStatus, Outcome, parse_networks
from .messages import Links
from .models import Delivery, Subscription
from .recorder import ResultRecorder
from .settings import NotificationsSettings

log = logging.getLogger(__name__)
# How many deliveries one drain sends back to back before yielding to the others.
DRAIN_LIMIT = 100

ATTEMPTS = Counter("capaflow_notification_attempts", "Delivery attempts by channel and outcome",
                   ["channel", "outcome"])


class DeliveryWorker:
    def __init__(self, *, sessions: SessionFactory, settings: NotificationsSettings,
                 client: httpx.AsyncClient | None = None) -> None:
        self._sessions = sessions
        self._settings = settings
        self._allowed = parse_networks(settings.allowed_networks)
        self._links = Links(settings.public_base_url, settings.nonconformity_base_url)
        # Idle connections capped at httpx's own default (20; Limits(max_connections=...)
        # alone leaves them unbounded): httpcore probes every idle pooled socket on
        # each request it places, which cost a third of the worker's CPU in a
        # 500-subscription fan-out with 50 idle connections kept from the last one.
        self._client = client or httpx.AsyncClient(
            follow_redirects=False, trust_env=False,
            limits=httpx.Limits(max_connections=settings.delivery_concurrency,
                                max_keepalive_connections=min(20, settings.delivery_concurrency)))
        self._in_flight: set[Key] = set()
        # Queues seen by a dispatch to hold more behind the delivery in flight:
        # the drain reads the next one instead of waiting for a later dispatch.
        self._more: set[Key] = set()
        # Ids recorded while a dispatch query was out: its rows for them may be
        # older than the record, so they are not started again from those rows.
        self._recorded: set[UUID] | None = None
        self._announced: list[UUID] = []
        self._wakeup = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(settings.delivery_concurrency)
        self._recorder = ResultRecorder(sessions=sessions, settings=settings)

    def wake(self, delivery_ids: Iterable[UUID]) -> None:
        """Deliveries were just committed: dispatch them now, not at the next poll."""
        self._announced.extend(delivery_ids)
        self._wakeup.set()

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        poll = self._settings.delivery_poll_interval
        watcher = asyncio.create_task(self._wake_on(stop))
        next_full = loop.time()
        try:
            while not stop.is_set():
                self._wakeup.clear()
                announced, self._announced = self._announced, []
                try:
                    # The full dispatch keeps its pace however often wake-ups come,
                    # so retries that come due are never starved.
                    if loop.time() >= next_full:
                        next_full = loop.time() + poll
                        await self.dispatch_due()
                    elif announced:
                        await self.dispatch_due(announced)
                except Exception:
                    log.warning("delivery worker failed; retrying", exc_info=True)
                try:
                    await asyncio.wait_for(self._wakeup.wait(),
                                           timeout=max(0.0, next_full - loop.time()))
                except TimeoutError:
                    pass
        finally:
            watcher.cancel()
            await self.aclose()

    @property
    def in_progress(self) -> int:
        """Queues being sent right now."""
        return len(self._tasks)

    async def aclose(self, timeout: float = 5.0) -> None:
        """Let attempts in progress finish (up to ``timeout``), then close the client."""
        if self._tasks:
            # An attempt cut short stays pending and is sent again after a restart.
            _, pending = await asyncio.wait(self._tasks, timeout=timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        # Results of sends that happened are written even for cancelled attempts.
        await self._recorder.aclose()
        await self._client.aclose()

    async def _wake_on(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._wakeup.set()

    async def dispatch_due(self, delivery_ids: Sequence[UUID] | None = None) -> int:
        """Start an attempt for the head of every due queue (or of the queues of
        ``delivery_ids``, just queued); returns how many started."""
        started = 0
        batch = self._settings.delivery_batch_size
        chunks = [None] if delivery_ids is None else [
            delivery_ids[i:i + batch] for i in range(0, len(delivery_ids), batch)]
        for chunk in chunks:
            self._recorded = set()
            try:
                async with self._sessions() as session:
                    if chunk is None:
                        heads = (await session.exec(self._heads_query())).all()
                        rows = await self._rows_to_start(session, heads)
                    else:
                        rows = [(Due(*r[:-2]), r[-2], r[-1]) for r in (await session.exec(
                            self._announced_query(chunk))).all()]
            finally:
                recorded = self._recorded or set()
                self._recorded = None
            for due, is_head, more in rows:
                started += self._start(due, is_head=is_head, more=more, recorded=recorded)
        return started

    def _heads_query(self) -> Any:
        heads = (select(col(Delivery.subscription_id).label("sid"),
                        col(Delivery.subject).label("subj"),
                        func.min(Delivery.seq).label("seq"),
                        func.count().label("queued"))
                 .where(col(Delivery.status) == DeliveryStatus.pending.value)
                 .group_by(col(Delivery.subscription_id), col(Delivery.subject)).subquery())
        return (select(Delivery.id, Delivery.subscription_id, Delivery.subject, heads.c.queued)
                .join(heads, and_(col(Delivery.subscription_id) == heads.c.sid,
                                  col(Delivery.subject) == heads.c.subj,
                                  col(Delivery.seq) == heads.c.seq))
                .join(Subscription, col(Subscription.id) == col(Delivery.subscription_id))
                .where(col(Delivery.status) == DeliveryStatus.pending.value,
                       col(Subscription.active).is_(True),
                       col(Delivery.next_attempt_at) <= utcnow())
                .order_by(col(Delivery.next_attempt_at))
                .limit(self._settings.delivery_batch_size))

    async def _rows_to_start(self, session: AsyncSession,
                             heads: Sequence[Any]) -> list[tuple[Due, bool, bool]]:
        """The full rows of the heads not in flight; in-flight queues with more get marked."""
        wanted: dict[UUID, bool] = {}
        for delivery_id, subscription_id, subject, queued in heads:
            key = (subscription_id, subject)
            if key in self._in_flight:
                if queued > 1:
                    self._more.add(key)
            else:
                wanted[delivery_id] = queued > 1
        if not wanted:
            return []
        # Payloads only for what will be sent: queues in flight are skipped above.
        rows = (await session.exec(due_query().where(col(Delivery.id).in_(list(wanted)),
                                                     col(Delivery.next_attempt_at) <= utcnow())
                                   )).all()
        return [(Due(*r), True, wanted[r[0]]) for r in rows]

    def _announced_query(self, delivery_ids: Sequence[UUID]) -> Any:
        older = aliased(Delivery)
        waiting = (select(older.id).where(
            older.subscription_id == Delivery.subscription_id,
            older.subject == Delivery.subject,
            older.status == DeliveryStatus.pending.value,
            older.seq < Delivery.seq))
        later = (select(older.id).where(
            older.subscription_id == Delivery.subscription_id,
            older.subject == Delivery.subject,
            older.status == DeliveryStatus.pending.value,
            older.seq > Delivery.seq))
        # Only the head of its queue may start; the flags say where in it each one is.
        return (due_query().add_columns(~exists(waiting), exists(later))
                .where(col(Delivery.id).in_(delivery_ids),
                       col(Delivery.next_attempt_at) <= utcnow()))

    def _start(self, due: Due, *, is_head: bool, more: bool, recorded: set[UUID]) -> int:
        key = due.key
        if key in self._in_flight or not is_head:
            if key in self._in_flight:
                self._more.add(key)
            return 0
        if due.id in recorded:
            return 0  # sent and recorded while the query ran: this row is stale
        self._in_flight.add(key)
        self._more.discard(key)  # this row's own flag is the fresher word
        task = asyncio.create_task(self._drain(due, more))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return 1

    async def _drain(self, due: Due, more: bool) -> None:
        """Send the head of one queue and, while that works, the next ones behind it."""
        key = due.key
        try:
            async with self._slots:
                current: Due | None = due
                for _ in range(DRAIN_LIMIT):
                    assert current is not None
                    fetch_next = more or key in self._more
                    self._more.discard(key)
                    result, current, more = await self._attempt(current, fetch_next)
                    if current is None and result is not None \
                            and result.outcome is Outcome.delivered and key in self._more:
                        # A dispatch saw more queued while we recorded: look once more.
                        self._more.discard(key)
                        async with self._sessions() as session:
                            current, more = await next_due(session, key)
                    if current is None:
                        break
                else:
                    # Yield to the other queues; this one goes on at the next dispatch.
                    if current is not None:
                        self._announced.append(current.id)
                        self._wakeup.set()
        except Exception:
            log.exception("delivery attempt %s crashed", due.id)
        finally:
            self._in_flight.discard(key)

    async def _attempt(self, due: Due, fetch_next: bool
                       ) -> tuple[AttemptResult | None, Due | None, bool]:
        """Send, record; after a success also the next due delivery of the queue."""
        started = utcnow()
        result = await send(due, client=self._client, settings=self._settings,
                            allowed=self._allowed, links=self._links, now=started)
        written, following, more = await self._recorder.record(
            due, result, started=started, fetch_next=fetch_next)
        if self._recorded is not None:
            self._recorded.add(due.id)
        ATTEMPTS.labels(due.channel, result.outcome.value).inc()
        return (result if written else None), following, more
