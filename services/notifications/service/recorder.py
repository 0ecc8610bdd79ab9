"""Group commit for attempt results.

Recording each attempt in a transaction of its own cost a pool checkout (a
pre-ping), BEGIN and COMMIT per delivery around the one UPDATE that matters.
The recorder writes the results that are ready together: one transaction
holds each one's conditional UPDATE (and, after a success, the read of the
next due delivery of its queue), and the outbox rows of all of them go out as
one INSERT at the commit. A lone result is written at once, so latency does
not grow; under load, results that arrive while a batch is being written make
up the next one.

An attempt awaits its result's commit before its queue moves on, so order
and "recorded before the next one is sent" hold as before.

Lock order, the same in every process, so replicas recording at once never
deadlock: a batch's delivery UPDATEs in delivery-id order; then the claims of
the next deliveries of their queues (``SKIP LOCKED``: they never wait); then
subscription rows (410s) in id order; then the revision row.
"""

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from shared.db import SessionFactory, transaction

from ..domain import AttemptResult, Outcome
from ..settings import NotificationsSettings
from .attempts import Due, disable_gone, record
from .claims import claim, release

log = logging.getLogger(__name__)
# Results per transaction: bounds how long one batch holds its row locks.
MAX_BATCH = 100

Recorded = tuple[bool, Due | None, bool]  # written?, next due of the queue, more behind it


@dataclass
class _Result:
    due: Due
    result: AttemptResult
    started: datetime
    fetch_next: bool
    done: asyncio.Future[Recorded] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future())


class ResultRecorder:
    def __init__(self, *, sessions: SessionFactory, settings: NotificationsSettings,
                 worker: str, lease: timedelta) -> None:
        self._sessions = sessions
        self._settings = settings
        self._worker = worker
        self._lease = lease
        self._queue: list[_Result] = []
        # Runs while results are queued; record() starts it again when it ended.
        self._task: asyncio.Task[None] | None = None

    async def record(self, due: Due, result: AttemptResult, *, started: datetime,
                     fetch_next: bool) -> Recorded:
        """Write one result; returns whether it was written (False: the delivery
        changed meanwhile) and, when asked after a success, the queue's next due one,
        claimed for this worker."""
        item = _Result(due, result, started, fetch_next)
        # Nobody may be waiting any more (a cancelled attempt): do not warn then.
        item.done.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._queue.append(item)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="delivery-recorder")
        # Shielded: a cancelled attempt's result is still written (the send happened).
        return await asyncio.shield(item.done)

    async def aclose(self) -> None:
        """Wait until everything queued is written."""
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            await self._write(batch)

    async def _write(self, batch: list[_Result]) -> None:
        try:
            async with transaction(self._sessions) as session:
                written: dict[int, bool] = {}
                # Delivery rows in one order for every writer (see the module doc).
                for i in sorted(range(len(batch)), key=lambda i: batch[i].due.id):
                    item = batch[i]
                    # Outbox rows wait for the commit's flush, one INSERT for the batch,
                    # instead of being flushed before each next UPDATE.
                    with session.no_autoflush:
                        written[i] = await record(session, item.due, item.result,
                                                  started=item.started,
                                                  settings=self._settings, worker=self._worker)
                outcomes: list[Recorded] = []
                for i, item in enumerate(batch):
                    following: tuple[Due | None, bool] = (None, False)
                    if written[i] and item.fetch_next and item.result.outcome is Outcome.delivered:
                        with session.no_autoflush:
                            claimed = await claim(session, worker=self._worker,
                                                  lease=self._lease, limit=1, key=item.due.key)
                        if claimed:
                            following = claimed[0]
                    outcomes.append((written[i], *following))
                await disable_gone(session, (
                    item.due.subscription_id for i, item in enumerate(batch)
                    if written[i] and item.result.outcome is Outcome.gone))
        except Exception as exc:
            if len(batch) > 1:
                # One bad result must not sink the others: write them one at a time.
                log.warning("recording %d attempt results failed; one at a time", len(batch),
                            exc_info=True)
                for item in batch:
                    await self._write([item])
                return
            if not batch[0].done.done():
                batch[0].done.set_exception(exc)
            return
        orphans = []
        for item, outcome in zip(batch, outcomes, strict=True):
            if not item.done.done():
                item.done.set_result(outcome)
            elif outcome[1] is not None:
                orphans.append(outcome[1].id)  # its attempt was cancelled: nobody sends it
        if orphans:
            await self._release(orphans)

    async def _release(self, delivery_ids: list[UUID]) -> None:
        """Give back claims nobody will attempt, so others need not wait for them to expire."""
        try:
            async with transaction(self._sessions) as session:
                for delivery_id in sorted(delivery_ids):
                    await release(session, delivery_id, self._worker)
        except Exception:
            log.warning("releasing %d claims failed; they expire", len(delivery_ids),
                        exc_info=True)
