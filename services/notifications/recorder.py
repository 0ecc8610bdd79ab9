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
"""

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime

from shared.db import SessionFactory, transaction

from .attempts import Due, disable_gone, next_due, record
from .domain import AttemptResult, Outcome
from .settings import NotificationsSettings

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
    def __init__(self, *, sessions: SessionFactory, settings: NotificationsSettings) -> None:
        self._sessions = sessions
        self._settings = settings
        self._queue: list[_Result] = []
        # Runs while results are queued; record() starts it again when it ended.
        self._task: asyncio.Task[None] | None = None

    async def record(self, due: Due, result: AttemptResult, *, started: datetime,
                     fetch_next: bool) -> Recorded:
        """Write one result; returns whether it was written (False: the delivery
        changed meanwhile) and, when asked after a success, the queue's next due one."""
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
                outcomes: list[Recorded] = []
                for item in batch:
                    # Outbox rows wait for the commit's flush, one INSERT for the batch,
                    # instead of being flushed before each next UPDATE.
                    with session.no_autoflush:
                        written = await record(session, item.due, item.result,
                                               started=item.started, settings=self._settings)
                    following: tuple[Due | None, bool] = (None, False)
                    if written and item.fetch_next and item.result.outcome is Outcome.delivered:
                        following = await next_due(session, item.due.key)
                    outcomes.append((written, *following))
                await disable_gone(session, (
                    item.due.subscription_id for item, (written, *_) in zip(
                        batch, outcomes, strict=True)
                    if written and item.result.outcome is Outcome.gone))
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
        for item, outcome in zip(batch, outcomes, strict=True):
            if not item.done.done():
                item.done.set_result(outcome)
