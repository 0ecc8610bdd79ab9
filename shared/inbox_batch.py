"""A fetched batch of records handled in one transaction (issue 17).

Under load a consumer fetches up to a hundred records at a time, and each
used to be its own transaction: session checkout, BEGIN, the inbox INSERT,
the handler, COMMIT — four round trips to the database before the handler's
own, on the same two CPUs the database runs on. Here the whole batch shares
them: one transaction claims every event in one multi-row ``INSERT ... ON
CONFLICT DO NOTHING RETURNING`` (what comes back is new; what does not was
processed before, by this or another replica), runs the handlers of the new
ones in record order, and commits once. A handler with ``handle_many`` (the
notifications matcher) takes a run of consecutive events in one call, so it
can number them and queue their deliveries in one statement each.

The guarantees are the per-record path's: each event's effects commit
together with its inbox row (now with the rest of the batch), order within a
partition holds because handlers run in order, a duplicate is a no-op, and
offsets are committed only after the commit. Anything unusual — a record that
does not decode, a handler that raises, the database going away — rolls the
whole batch back and the caller hands every record to the per-record path,
which retries, waits out outages and dead-letters exactly as before. Nothing
is marked handled before the batch commits, so a dead letter's immediate
offset commit can never skip an unhandled record ahead of it. The failed
batch counts as the failing handler's first attempt; the handlers before it
in the batch run again (their effects were rolled back with the batch), which
is why handlers keep their effects in the transaction.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel.ext.asyncio.session import AsyncSession

from shared import tracing
from shared.bus.base import ReceivedRecord, Subscription
from shared.db import WRITES, is_unavailable, utcnow
from shared.events.envelope import from_record
from shared.observability import EVENTS_CONSUMED

if TYPE_CHECKING:
    from shared.inbox import ConsumedEvent, EventConsumer, Handler

    class BatchHandler(Protocol):
        """A handler that also takes several events at once, in order, in the same
        transaction (fewer round trips); the consumer uses it for a run of them."""

        async def handle_many(self, session: AsyncSession,
                              events: list[ConsumedEvent[Any]]) -> None: ...

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Item:
    record: ReceivedRecord
    event_type: str
    event: "ConsumedEvent[Any] | None" = None  # None: no handler here (ignored)
    handler: "Handler | None" = None


async def handle_batch(consumer: "EventConsumer", records: Sequence[ReceivedRecord],
                       subscription: Subscription) -> bool:
    """Handle ``records`` in one transaction and mark them handled; False (nothing
    marked, nothing committed) when the caller must take them one by one."""
    items = decode(consumer, records)
    if items is None:
        return False
    claimed = [i for i in items if i.event is not None]
    fresh: set[str] = set()
    if claimed:
        failing: list[str] = []
        try:
            fresh = await _handle_in_one_transaction(consumer, claimed, failing)
        except Exception as exc:
            log.info("batch of %d records failed in %s; handling them one by one",
                     len(records), consumer.group, exc_info=True)
            if failing and not is_unavailable(exc):
                consumer.tried_in_batch(failing[0])
            return False
    for item in items:
        if item.event is None:
            outcome = "ignored"
        elif item.event.id in fresh:
            fresh.discard(item.event.id)  # a second copy in the same batch is a duplicate
            outcome = "handled"
        else:
            outcome = "duplicate"
        EVENTS_CONSUMED.labels(consumer.group, item.event_type, outcome).inc()
        subscription.mark_handled(item.record)
    return True


def decode(consumer: "EventConsumer", records: Sequence[ReceivedRecord]) -> list[_Item] | None:
    """Every record decoded and routed, or None if one is unreadable or misshapen
    (the per-record path dead-letters it, in order)."""
    items = []
    for record in records:
        try:
            envelope = from_record(record)
            event_type = envelope.get_type()
            route = consumer.route(event_type)
            if route is None:
                items.append(_Item(record, event_type))
                continue
            model, handler = route
            event = consumer.event_of(model, envelope)
        except Exception:
            return None
        items.append(_Item(record, event_type, event, handler))
    return items


async def _handle_in_one_transaction(consumer: "EventConsumer", items: Sequence[_Item],
                                     failing: list[str]) -> set[str]:
    """The ids of the events that were new, after their handlers ran and committed;
    the id of an event whose handler raised is put in ``failing``."""
    async with consumer.sessions() as session, session.begin():
        await session.connection(execution_options=WRITES)
        fresh = await _claim(session, consumer.group, items)
        todo: list[_Item] = []
        pending = set(fresh)
        for item in items:  # each new event once, in record order
            assert item.event is not None
            if item.event.id in pending:
                pending.discard(item.event.id)
                todo.append(item)
        start = 0
        while start < len(todo):
            end = _run_end(todo, start)
            first = todo[start]
            assert first.event is not None and first.handler is not None
            failing[:] = [first.event.id]
            if end - start > 1:
                many: BatchHandler = first.handler  # type: ignore[assignment]
                await many.handle_many(session, [t.event for t in todo[start:end]
                                                 if t.event is not None])
            else:
                with consumer.traced(first.event):
                    await first.handler(session, first.event)
            start = end
        failing.clear()
    return fresh


def _run_end(todo: Sequence[_Item], start: int) -> int:
    """End of the run of events from ``start`` that one handler takes together:
    consecutive events of a handler with ``handle_many``, while no span is being
    recorded (a span belongs to one event; with tracing on, each is handled alone)."""
    handler = todo[start].handler
    if not hasattr(handler, "handle_many") or tracing.recording():
        return start + 1
    end = start + 1
    while end < len(todo) and todo[end].handler is handler:
        end += 1
    return end


async def _claim(session: AsyncSession, group: str, items: Sequence[_Item]) -> set[str]:
    # Imported here: shared.inbox imports this module.
    from shared.inbox import ProcessedEvent

    now = utcnow()
    rows: dict[str, dict[str, Any]] = {}
    for item in items:
        assert item.event is not None
        rows.setdefault(item.event.id, {"consumer_group": group, "event_id": item.event.id,
                                        "event_type": item.event_type, "processed_at": now})
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = ProcessedEvent.__table__  # type: ignore[attr-defined]
    statement = (insert(table).values(list(rows.values())).on_conflict_do_nothing()
                 .returning(table.c.event_id))
    connection = await session.connection()
    return set((await connection.execute(statement)).scalars())
