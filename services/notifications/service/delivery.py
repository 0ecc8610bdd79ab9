"""The delivery worker: sends due deliveries, retries, dead-letters.

Order: deliveries of one (subscription, subject) — one NC or CAPA at one
subscriber — go out one at a time in event order; everything else runs
concurrently, so a slow or dead endpoint only holds up its own queue. The
schedule lives in the database (``next_attempt_at``) and survives restarts.

Any number of replicas may run a worker on one database: an attempt starts
only once this worker claimed the delivery (``claims.py``), and only the head
of a queue can be claimed, so each delivery is attempted by one process at a
time and per-queue order holds across replicas. Claims are taken only for
free slots (``delivery_concurrency``), so a claimed delivery starts at once
and its claim never runs out while it waits; the rest of what a dispatch
found waits in memory for the next free slot. That bookkeeping (queues in
flight, hand-offs, waiting ids, free slots) is ``domain.delivery_book``; this
module does the I/O around it.

New deliveries are announced on commit by the matcher and the API of this
process (``matching.deliveries_queued``, handed to :meth:`DeliveryWorker.wake`),
so they start at once and only their own rows are read. Every
``delivery_poll_interval`` a full dispatch still looks at every queue: retries
that came due, deliveries queued by another replica (its consumer or its API),
deliveries queued before a restart, claims left by a replica that died.
"""

import asyncio
import logging
from collections.abc import Iterable, Sequence
from datetime import timedelta
from uuid import UUID

import httpx
from prometheus_client import Counter
from sqlmodel import col, select

from shared.db import SessionFactory, commit_listener, transaction, utcnow

from ..channels.pinning import pinned_client
from ..domain import AttemptResult, Outcome, parse_networks
from ..domain.delivery_book import DeliveryBook
from ..models import Delivery
from ..settings import NotificationsSettings
from .attempts import Due, Key, send
from .claims import claim, heads_query, new_worker_id, release, release_all
from .matching import DELIVERIES_QUEUED
from .messages import Links
from .recorder import ResultRecorder

log = logging.getLogger(__name__)
# How many deliveries one drain sends back to back before yielding to the others.
DRAIN_LIMIT = 100
# Delivery ids kept waiting for a slot, at most (the full dispatch finds the rest).
MAX_WAITING = 5000

ATTEMPTS = Counter("capaflow_notification_attempts", "Delivery attempts by channel and outcome",
                   ["channel", "outcome"])


class DeliveryWorker:
    def __init__(self, *, sessions: SessionFactory, settings: NotificationsSettings,
                 client: httpx.AsyncClient | None = None, worker_id: str | None = None) -> None:
        self._sessions = sessions
        self._settings = settings
        self.worker_id = worker_id or new_worker_id()
        self._lease = timedelta(seconds=settings.delivery_deadline
                                + settings.delivery_claim_margin)
        self._allowed = parse_networks(settings.allowed_networks)
        self._links = Links(settings.public_base_url, settings.nonconformity_base_url,
                            settings.ui_base_url)
        # Idle connections capped at httpx's own default (20; Limits(max_connections=...)
        # alone leaves them unbounded): httpcore probes every idle pooled socket on
        # each request it places, which cost a third of the worker's CPU in a
        # 500-subscription fan-out with 50 idle connections kept from the last one.
        # Pinned: connections go only to the addresses the SSRF guard checked.
        self._client = client or pinned_client(
            limits=httpx.Limits(max_connections=settings.delivery_concurrency,
                                max_keepalive_connections=min(20, settings.delivery_concurrency)))
        # Which queues are in flight, what waits for a slot (pure: no I/O in it).
        self._book: DeliveryBook[Due] = DeliveryBook(
            concurrency=settings.delivery_concurrency,
            batch_size=settings.delivery_batch_size, max_waiting=MAX_WAITING)
        self._wakeup = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._recorder = ResultRecorder(sessions=sessions, settings=settings,
                                        worker=self.worker_id, lease=self._lease)

    def wake(self, delivery_ids: Iterable[UUID]) -> None:
        """Deliveries were just committed: dispatch them now, not at the next poll."""
        self._book.announce(delivery_ids)
        self._wakeup.set()

    async def run(self, stop: asyncio.Event) -> None:
        log.info("delivery worker %s started", self.worker_id)
        watcher = asyncio.create_task(self._wake_on(stop))
        try:
            # What this process commits (the consumer's matches, the API's test
            # sends and replays) is handed over on commit: started now, not at
            # the next poll.
            with commit_listener(self._sessions, DELIVERIES_QUEUED, self.wake):
                await self._loop(stop)
        finally:
            watcher.cancel()
            await self.aclose()

    async def _loop(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        poll = self._settings.delivery_poll_interval
        next_full = loop.time()
        while not stop.is_set():
            self._wakeup.clear()
            try:
                # The full dispatch keeps its pace however often wake-ups come,
                # so retries that come due are never starved.
                full = loop.time() >= next_full
                if full:
                    next_full = loop.time() + poll
                await self.dispatch_due(None if full else ())
            except Exception:
                log.warning("delivery worker failed; retrying", exc_info=True)
            try:
                await asyncio.wait_for(self._wakeup.wait(),
                                       timeout=max(0.0, next_full - loop.time()))
            except TimeoutError:
                pass

    @property
    def in_progress(self) -> int:
        """Queues being sent right now."""
        return len(self._tasks)

    async def aclose(self, timeout: float | None = None) -> None:
        """Let attempts in progress finish, then give back every claim still held
        and close the client. ``timeout`` defaults to the attempt deadline (plus a
        little for recording), so a graceful stop (a rolling update, a node drain)
        lets each attempt end on its own and sends nothing twice."""
        self._book.close()  # no new drains
        if timeout is None:
            timeout = self._settings.delivery_deadline + 2.0
        if self._tasks:
            # An attempt cut short by a shorter stop is given back below and sent
            # again by another replica: at-least-once, under the same webhook-id.
            _, pending = await asyncio.wait(self._tasks, timeout=timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        # Results of sends that happened are written even for cancelled attempts.
        await self._recorder.aclose()
        try:
            async with transaction(self._sessions) as session:
                released = await release_all(session, self.worker_id)
            if released:
                log.info("delivery worker %s gave back %d claims", self.worker_id, released)
        except Exception:
            # The database is gone: the claims expire after their lease instead.
            log.warning("could not give back the claims of %s", self.worker_id, exc_info=True)
        await self._client.aclose()

    async def _wake_on(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._wakeup.set()

    async def dispatch_due(self, delivery_ids: Sequence[UUID] | None = None) -> int:
        """Claim and start the head of every due queue (or of the queues of
        ``delivery_ids``, just queued), as far as slots are free; returns how many
        started. What does not fit waits for the next free slot."""
        self._book.wait_for_slot([*self._book.take_announced(), *(delivery_ids or ())])
        if delivery_ids is None:
            async with self._sessions() as session:
                heads = (await session.exec(heads_query(
                    self.worker_id, self._settings.delivery_batch_size))).all()
            self._book.found_heads((delivery_id, (subscription_id, subject), queued)
                                   for delivery_id, subscription_id, subject, queued in heads)
        return await self._claim_waiting()

    async def _claim_waiting(self) -> int:
        """Claim waiting deliveries for the free slots and start them."""
        started = 0
        while (window := self._book.window()) is not None:
            candidates, free = window
            in_flight = self._book.in_flight()
            async with transaction(self._sessions) as session:
                claimed = await claim(session, worker=self.worker_id, lease=self._lease,
                                      limit=free, ids=candidates)
            self._book.claimed(due.id for due, _ in claimed)
            for due, more in claimed:
                started += self._start(due, more)
            if len(claimed) == free:
                continue  # the slots are full; the rest of the window waits for one
            # Below the limit: none of the others can be claimed now.
            rest = self._book.not_claimable(candidates, (due.id for due, _ in claimed))
            if rest and (in_flight or self._book.busy):
                await self._follow_unclaimed(rest, in_flight)
        return started

    async def _follow_unclaimed(self, delivery_ids: set[UUID],
                                in_flight: frozenset[Key]) -> None:
        """Deliveries not claimable because their queue is ours in flight: that drain
        takes them next. A drain that ended while the claim was out: claim again."""
        async with self._sessions() as session:
            rows = (await session.exec(select(Delivery.id, Delivery.subscription_id,
                                              Delivery.subject)
                                       .where(col(Delivery.id).in_(list(delivery_ids))))).all()
        if self._book.follow_unclaimed(((delivery_id, (subscription_id, subject))
                                        for delivery_id, subscription_id, subject in rows),
                                       in_flight):
            self._wakeup.set()

    def _start(self, due: Due, more: bool) -> int:
        if not self._book.start(due.key, due, more):
            return 0  # stopping, or handed to the queue's ending drain
        task = asyncio.create_task(self._drain(due, more))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return 1

    async def _drain(self, due: Due, more: bool) -> None:
        """Send the head of one queue and, while that works, the next ones behind it."""
        key = due.key
        try:
            current: Due | None = due
            for _ in range(DRAIN_LIMIT):
                assert current is not None
                seen_more = self._book.take_more(key)
                result, current, more = await self._attempt(current, more or seen_more)
                if current is None and result is not None \
                        and result.outcome is Outcome.delivered and self._book.take_more(key):
                    # A dispatch saw more queued while we recorded: look once more.
                    async with transaction(self._sessions) as session:
                        claimed = await claim(session, worker=self.worker_id,
                                              lease=self._lease, limit=1, key=key)
                    current, more = claimed[0] if claimed else (None, False)
                if current is None:
                    break
            else:
                # Yield to the other queues: give the claim back and wait for a slot.
                if current is not None:
                    await self._release(current)
                    self._book.wait_for_slot([current.id])
        except Exception:
            log.exception("delivery attempt %s crashed", due.id)
        finally:
            handed = self._book.finish(key)
            if handed is not None:
                self._start(*handed)
            if self._book.has_pending:
                self._wakeup.set()  # a slot is free

    async def _release(self, due: Due) -> None:
        try:
            async with transaction(self._sessions) as session:
                await release(session, due.id, self.worker_id)
        except Exception:
            log.warning("releasing the claim on %s failed; it expires", due.id, exc_info=True)

    async def _attempt(self, due: Due, fetch_next: bool
                       ) -> tuple[AttemptResult | None, Due | None, bool]:
        """Send, record; after a success also the next due delivery of the queue."""
        started = utcnow()
        result = await send(due, client=self._client, settings=self._settings,
                            allowed=self._allowed, links=self._links, now=started)
        written, following, more = await self._recorder.record(
            due, result, started=started, fetch_next=fetch_next)
        ATTEMPTS.labels(due.channel, result.outcome.value).inc()
        return (result if written else None), following, more
