"""Daily and weekly digests: one message per subscription and finished period.

``run_digests(now=...)`` is the use case (tests pass a fixed "now"); the
periodic task calls it with the clock. The digest is a delivery like any
other (same channels, retries, dead letters); its event id names the period,
so running twice for one period queues it once: the unique (subscription,
event id) with ON CONFLICT DO NOTHING settles a race between two runs, and
the loser moves on instead of aborting. The schedule runs under a lease
(``shared/lease.py``), so one replica at a time does the work.
"""

import asyncio
import json
import logging
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import SessionFactory, transaction, utcnow
from shared.lease import lease
from shared.runtime import every

from ..domain import CapaBook, DeliveryMode, DeliveryStatus, EventFilter, digest_period
from ..models import Delivery, ReceivedEvent, Subscription
from .messages import DIGEST_TYPE

log = logging.getLogger(__name__)
LESSON_TYPE = "capaflow.lesson.published.v1"
LEASE = "notifications.digests"


def _summary(envelope: dict[str, Any]) -> dict[str, Any]:
    return {"id": envelope.get("id"), "type": envelope.get("type"),
            "subject": envelope.get("subject"), "time": envelope.get("time"),
            "data": envelope.get("data") or {}}


async def run_digests(sessions: SessionFactory, *, now: datetime) -> int:
    """Queue the digest of the last finished period for every digest subscription."""
    async with sessions() as session:
        subs = (await session.exec(select(Subscription).where(
            col(Subscription.active).is_(True),
            col(Subscription.mode).in_([DeliveryMode.daily.value,
                                        DeliveryMode.weekly.value])))).all()
    queued = 0
    events_cache: dict[tuple[datetime, datetime], list[dict[str, Any]]] = {}
    book: CapaBook | None = None
    for sub in subs:
        mode = DeliveryMode(sub.mode)
        start, end = digest_period(mode, now)
        event_id = f"digest:{mode.value}:{end.isoformat()}"
        async with sessions() as session:
            done = (await session.exec(select(Delivery.id).where(
                col(Delivery.subscription_id) == sub.id,
                col(Delivery.event_id) == event_id))).first()
            if done is not None:
                continue
            if (start, end) not in events_cache:
                rows = (await session.exec(select(ReceivedEvent.envelope).where(
                    col(ReceivedEvent.received_at) >= start,
                    col(ReceivedEvent.received_at) < end)
                    .order_by(col(ReceivedEvent.position)))).all()
                events_cache[(start, end)] = [json.loads(r) for r in rows]
            if book is None:
                book = CapaBook()
                for row in (await session.exec(select(ReceivedEvent.envelope).where(
                        col(ReceivedEvent.event_type).like("capaflow.capa.%"),
                        col(ReceivedEvent.received_at) < now)
                        .order_by(col(ReceivedEvent.position)))).all():
                    envelope = json.loads(row)
                    book.apply(envelope["type"], envelope.get("data") or {})
        period = events_cache[(start, end)]
        wanted = EventFilter.from_dict(json.loads(sub.filter))
        matched = [_summary(e) for e in period
                   if wanted.matches(e["type"], e.get("data") or {})]
        lessons = [_summary(e) for e in period if e["type"] == LESSON_TYPE]
        open_capas, overdue = list(book.open.values()), book.overdue(now)
        if sub.watching is not None:
            lessons, open_capas, overdue = _about_record(wanted, matched, lessons,
                                                         open_capas, overdue)
        if not (matched or lessons or open_capas):
            continue
        envelope = {
            "specversion": "1.0", "id": str(uuid4()), "source": "/capaflow/notifications",
            "type": DIGEST_TYPE, "subject": str(sub.id),
            "time": now.isoformat().replace("+00:00", "Z"),
            "datacontenttype": "application/json",
            "data": {"mode": mode.value, "period_start": start.isoformat(),
                     "period_end": end.isoformat(), "events": matched, "lessons": lessons,
                     "open_capas": open_capas, "overdue_capas": overdue},
        }
        try:
            async with transaction(sessions) as session:
                if not await _queue_once(session, sub.id, event_id=event_id, period_end=end,
                                         envelope=envelope):
                    continue  # another run queued it first
        except IntegrityError:
            log.info("subscription %s was deleted while its digest was built", sub.id)
            continue
        queued += 1
    return queued


def _about_record(wanted: EventFilter, matched: list[dict[str, Any]],
                  *parts: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """A watch's digest is about its record only: its lesson, its CAPA if open.
    Nothing of it happened in the period (``matched`` empty): nothing to send."""
    if not matched:
        return [[] for _ in parts]
    return [[row for row in part if wanted.matches_data(row.get("data", row))]
            for part in parts]


async def _queue_once(session: AsyncSession, subscription_id: UUID, *, event_id: str,
                      period_end: datetime, envelope: dict[str, Any]) -> bool:
    """Insert the digest delivery unless it exists; True when this call inserted it."""
    now = utcnow()
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    inserted = (await session.exec(insert(Delivery).values(  # type: ignore[call-overload]
        id=uuid4(), subscription_id=subscription_id, event_id=event_id,
        event_type=DIGEST_TYPE, subject=f"digest:{subscription_id}",
        # Periods of one subscription go out in order if several are pending.
        seq=period_end.toordinal(), payload=json.dumps(envelope, default=str),
        status=DeliveryStatus.pending.value, attempts=0, next_attempt_at=now, created_at=now)
        .on_conflict_do_nothing(index_elements=["subscription_id", "event_id"])
        .returning(Delivery.id))).first()
    if inserted is None:
        return False
    await session.exec(update(Subscription)
                       .where(col(Subscription.id) == subscription_id)
                       .values(last_digest_at=now)
                       .execution_options(synchronize_session=False))
    return True


async def run_digest_schedule(sessions: SessionFactory, stop: asyncio.Event,
                              interval: float) -> None:
    engine = sessions.kw["bind"]

    async def tick() -> None:
        async with lease(engine, LEASE) as held:
            if held:
                await run_digests(sessions, now=utcnow())

    await every(interval, stop, tick, what="digest run")
