"""The outbox relay: publishes unsent outbox rows in id order, pipelining
batches, and marks each batch sent only after the bus acknowledged it. On
PostgreSQL one replica at a time leads (advisory lock), so batches never
interleave and per-aggregate order holds.

A row the bus refuses for good (too large, invalid) is dead-lettered: marked
on the row, counted, logged at ERROR, and skipped, so the rows after it are
published. Later events of its aggregate go out without it: the aggregate
has a gap until the dead letter is replayed (``python -m shared.outbox_dlq``).
Transient failures (broker down, timeouts) still stop the pass at the failed
record and are retried, in order, for as long as they last.
"""

import asyncio
import logging
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Sequence
from typing import cast

from sqlalchemy import Integer, Row, Table, and_, any_, bindparam, case, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.bus.base import Bus, OutgoingRecord, PartlyRefused
from shared.db import WRITES, SessionFactory, UTCDateTime, commit_signal, transaction, utcnow
from shared.observability import (
    EVENTS_PUBLISHED,
    OUTBOX_BACKLOG,
    OUTBOX_DEAD_LETTERED,
    OUTBOX_DEAD_LETTERS,
    OUTBOX_OLDEST_AGE,
)
from shared.outbox import RELAY_CHANNEL, OutboxMessage, stored_headers

log = logging.getLogger(__name__)

# How often run() refreshes the backlog gauges: a count(*) after every pass
# cost about as much as publishing the batch.
BACKLOG_INTERVAL = 1.0
# Batches one relay pass publishes before it commits their marks: bounds what
# a crash republishes and how long the leader holds its transaction.
PASS_BATCHES = 10

_outbox = cast(Table, OutboxMessage.__table__)  # type: ignore[attr-defined]
_UNSENT_COLUMNS = (_outbox.c.id, _outbox.c.event_id, _outbox.c.event_type, _outbox.c.topic,
                   _outbox.c.key, _outbox.c.value, _outbox.c.headers)
# Rows the relay still has to publish: neither sent nor dead-lettered.
_PENDING = and_(_outbox.c.sent_at.is_(None), _outbox.c.dead_lettered_at.is_(None))
# id, event_id, event_type, topic, key, value, headers
Unsent = Row[int, str, str, str, str, bytes, str]
Reader = Callable[[int], Awaitable[Sequence[Unsent]]]
# Marks rows sent (ids) and dead-lettered ({id: the bus's error}).
Marker = Callable[[list[int], dict[int, str]], Awaitable[None]]
# What is kept of the bus's error on a dead-lettered row.
_ERROR_CHARS = 2000


class _PublishFailed(Exception):
    """The bus failed part-way through a pass; the batches before it are marked."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


class OutboxRelay:
    """Publishes unsent outbox rows in id order, a batch at a time.

    On PostgreSQL any number of replicas may run a relay: an advisory lock
    elects one per pass. A crash between publish and mark-sent republishes
    the pass's batches; consumers' inboxes make that harmless.
    """

    def __init__(self, *, service: str, sessions: SessionFactory, bus: Bus,
                 batch_size: int = 1000, poll_interval: float = 0.1,
                 after_publish: Callable[[list[int]], Awaitable[None]] | None = None) -> None:
        self._service = service
        self._sessions = sessions
        self._bus = bus
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        # Test seam: lets a test crash the relay between publish and mark-sent.
        self._after_publish = after_publish

    async def relay_once(self) -> int:
        """One pass: publishes up to PASS_BATCHES batches; returns how many rows
        were sent. Fewer than PASS_BATCHES full batches: the backlog was drained."""
        async with self._sessions() as session:
            if session.get_bind().dialect.name == "postgresql":
                return await self._relay_as_leader(session)
        # SQLite: one process owns the file, so no leader is needed; and holding
        # its single write lock while the broker is slow would stall every writer,
        # so each batch is read and marked in short transactions of its own.
        try:
            return await self._pump(self._read_apart, self._mark_apart)
        except _PublishFailed as failed:
            raise failed.error from None

    async def _relay_as_leader(self, session: AsyncSession) -> int:
        # Replicas of a service share its database; the transaction-scoped
        # advisory lock lets one relay at a time publish, so batches never
        # interleave and per-aggregate order holds. The others skip this pass.
        failed: _PublishFailed | None = None
        async with session.begin():
            conn = await session.connection(execution_options=WRITES)
            leader = (await conn.execute(text(
                "SELECT pg_try_advisory_xact_lock(hashtext(:key))"),
                {"key": f"capaflow-outbox-relay:{self._service}"})).scalar()
            if not leader:
                return 0
            try:
                sent = await self._pump(lambda last_id: self._unsent(conn, last_id),
                                        lambda ids, dead: self._mark_sent(conn, ids, dead))
            except _PublishFailed as exc:
                failed = exc
        # Committed: the batches acknowledged before a failure stay marked sent.
        if failed is not None:
            raise failed.error from None
        return sent

    async def _pump(self, read: Reader, mark: Marker) -> int:
        """Reads and sends batch n+1 while batch n's acks are outstanding, and
        marks each batch sent after its own acks, in id order.

        The bus keeps the order of successive sends per key. When a batch
        fails, it and every later one stay unsent (even if acknowledged), and
        the next pass republishes them in order; raises _PublishFailed.
        """
        sent, last_id, batches = 0, 0, 0
        in_flight: deque[tuple[Sequence[Unsent], Awaitable[None]]] = deque()
        try:
            while True:
                rows = await read(last_id) if batches < PASS_BATCHES else ()
                if rows:
                    batches += 1
                    last_id = rows[-1].id
                    records = [_outgoing(r) for r in rows]
                    previous = in_flight[-1][1] if in_flight else None
                    try:
                        acks = await self._bus.begin_publish(records, after=previous)
                        in_flight.append((rows, acks))
                    except Exception as exc:
                        # What went out before this batch may well be acknowledged.
                        while in_flight:
                            sent += await self._confirm(*in_flight.popleft(), mark)
                        raise _PublishFailed(exc) from exc
                # One batch stays in flight while there may be more to read.
                more = len(rows) == self._batch_size
                while len(in_flight) > int(more):
                    sent += await self._confirm(*in_flight.popleft(), mark)
                if not more:
                    return sent
        except Exception:
            # Later batches may still be on their way through the same producer:
            # let them settle (unmarked) before anything publishes again, so a
            # retry can never overtake them.
            for _, acks in in_flight:
                try:
                    await acks
                except Exception:
                    log.debug("a batch behind a failed one failed too", exc_info=True)
            raise

    async def _confirm(self, rows: Sequence[Unsent], acks: Awaitable[None],
                       mark: Marker) -> int:
        """Marks what the bus settled: acknowledged rows sent, refused ones
        dead-lettered. Raises _PublishFailed when the batch did not settle
        whole; the rows from the failed one on stay unsent."""
        refused: dict[int, BaseException] = {}
        settled, failure = len(rows), None
        try:
            try:
                await acks
            except PartlyRefused as partly:
                refused, settled, failure = partly.refused, partly.settled, partly.cause
            if self._after_publish is not None:
                await self._after_publish([r.id for r in rows[:settled]])
        except Exception as exc:
            raise _PublishFailed(exc) from exc
        done = rows[:settled]
        dead = {rows[i].id: f"{type(e).__name__}: {e}"[:_ERROR_CHARS] for i, e in refused.items()}
        await mark([r.id for r in done if r.id not in dead], dead)
        for event_type, count in Counter(r.event_type for r in done
                                         if r.id not in dead).items():
            EVENTS_PUBLISHED.labels(self._service, event_type).inc(count)
        for index in refused:
            self._dead_lettered(rows[index], dead[rows[index].id])
        if failure is not None:
            raise _PublishFailed(failure)
        return len(done)

    def _dead_lettered(self, row: Unsent, error: str) -> None:
        OUTBOX_DEAD_LETTERED.labels(self._service, row.event_type).inc()
        log.error("outbox event %s (%s, key %s) dead-lettered: the bus refused it for good; "
                  "later events were published without it. Inspect and replay it with "
                  "python -m shared.outbox_dlq", row.event_id, row.event_type, row.key,
                  extra={"service": self._service, "outbox_id": row.id,
                         "event_id": row.event_id, "event_type": row.event_type,
                         "key": row.key, "error": error})

    async def _unsent(self, conn: AsyncConnection, last_id: int) -> Sequence[Unsent]:
        # Core rows: loading ORM entities cost more than sending the records.
        return (await conn.execute(
            select(*_UNSENT_COLUMNS).where(_PENDING, _outbox.c.id > last_id)
            .order_by(_outbox.c.id).limit(self._batch_size))).all()

    async def _mark_sent(self, conn: AsyncConnection, ids: list[int],
                         dead: dict[int, str]) -> None:
        if ids:
            # By id, never by range: a row with a lower id can commit after a higher one.
            # One array parameter on PostgreSQL: expanding IN into a thousand bound
            # parameters cost more CPU than the rest of the pass's SQL.
            chosen = (_outbox.c.id == any_(bindparam("ids", ids, type_=ARRAY(Integer)))
                      if conn.dialect.name == "postgresql" else _outbox.c.id.in_(ids))
            await conn.execute(_outbox.update().where(chosen).values(sent_at=utcnow()))
        for row_id, error in dead.items():  # rare: one statement each
            await conn.execute(_outbox.update().where(_outbox.c.id == row_id).values(
                dead_lettered_at=utcnow(), dead_letter_error=error))

    async def _read_apart(self, last_id: int) -> Sequence[Unsent]:
        async with self._sessions() as session:
            return await self._unsent(await session.connection(), last_id)

    async def _mark_apart(self, ids: list[int], dead: dict[int, str]) -> None:
        async with transaction(self._sessions) as session:
            await self._mark_sent(await session.connection(), ids, dead)

    async def measure_backlog(self) -> tuple[int, float]:
        """Sets the backlog gauges; returns (rows to publish, age of the oldest in s)."""
        waiting = and_(_outbox.c.dead_lettered_at.is_not(None), _outbox.c.discarded_at.is_(None))
        async with self._sessions() as session:
            # One read of the unsent rows (ix_outbox_unsent): dead letters are among them.
            count, oldest, dead = (await (await session.connection()).execute(
                select(func.count(case((_PENDING, 1))),
                       func.min(case((_PENDING, _outbox.c.created_at)), type_=UTCDateTime),
                       func.count(case((waiting, 1))))
                .where(_outbox.c.sent_at.is_(None)))).one()
        # min() of the UTCDateTime-typed expression comes back aware.
        age = max(0.0, (utcnow() - oldest).total_seconds()) if oldest is not None else 0.0
        OUTBOX_BACKLOG.labels(self._service).set(count)
        OUTBOX_OLDEST_AGE.labels(self._service).set(age)
        OUTBOX_DEAD_LETTERS.labels(self._service).set(dead)
        return int(count), age

    async def run(self, stop: asyncio.Event) -> None:
        with commit_signal(self._sessions, RELAY_CHANNEL) as wake:
            stopping = asyncio.ensure_future(stop.wait())
            stopping.add_done_callback(lambda _: wake.set())
            try:
                await self._relay_until(stop, wake)
            finally:
                stopping.cancel()

    async def _relay_until(self, stop: asyncio.Event, wake: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        failures = 0
        measured = -BACKLOG_INTERVAL
        while not stop.is_set():
            # Cleared before the pass reads: a commit during the pass wakes the next.
            wake.clear()
            try:
                sent = await self.relay_once()
                failures = 0
            except Exception:
                failures += 1
                log.warning("outbox relay failed; retrying", exc_info=True,
                            extra={"service": self._service, "failures": failures})
                sent = 0
            # Measured whether or not the pass succeeded: a failing broker is
            # exactly when the backlog must show (while backing off, once a pass).
            if loop.time() - measured >= BACKLOG_INTERVAL:
                measured = loop.time()
                try:
                    await self.measure_backlog()
                except Exception:
                    log.debug("measuring the outbox backlog failed", exc_info=True)
            if failures:
                # Backing off from a failing broker or database: new commits do
                # not cut the wait short.
                delay = min(5.0, self._poll_interval * 2 ** min(failures, 6))
                await _wait(stop, delay)
            elif sent < self._batch_size * PASS_BATCHES:
                # Drained (or not the leader): wait for a commit, or poll for
                # rows committed elsewhere.
                await _wait(wake, self._poll_interval)


async def _wait(event_: asyncio.Event, timeout: float) -> None:
    try:
        await asyncio.wait_for(event_.wait(), timeout=timeout)
    except TimeoutError:
        pass


def _outgoing(row: Unsent) -> OutgoingRecord:
    return OutgoingRecord(topic=row.topic, key=row.key, value=row.value,
                          headers=stored_headers(row.headers))
