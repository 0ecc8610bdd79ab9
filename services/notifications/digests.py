"""Daily and weekly digests: one message per subscription and finished period.

``run_digests(now=...)`` is the use case (tests pass a fixed "now"); the
periodic task calls it with the clock. The digest is a delivery like any
other (same channels, retries, dead letters); its event id names the period,
so running twice for one period queues it once.
"""

import asyncio
import json
import logging
from datetime import datetime
from typing import Any
from uuid import uuid4

from sqlmodel import col, select

from shared.db import SessionFactory, transaction, utcnow

from .domain import CapaBook, DeliveryMode, EventFilter, digest_period
from .messages import DIGEST_TYPE
from .models import Delivery, ReceivedEvent, Subscription

log = logging.getLogger(__name__)
LESSON_TYPE = "capaflow.lesson.published.v1"


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
        open_capas = list(book.open.values())
        overdue = book.overdue(now)
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
        async with transaction(sessions) as session:
            session.add(Delivery(subscription_id=sub.id, event_id=event_id,
                                 event_type=DIGEST_TYPE, subject=f"digest:{sub.id}",
                                 payload=json.dumps(envelope, default=str),
                                 next_attempt_at=utcnow(), created_at=utcnow()))
            fresh = await session.get(Subscription, sub.id)
            if fresh is not None:
                fresh.last_digest_at = utcnow()
                session.add(fresh)
        queued += 1
    return queued


async def run_digest_schedule(sessions: SessionFactory, stop: asyncio.Event,
                              interval: float) -> None:
    while not stop.is_set():
        try:
            await run_digests(sessions, now=utcnow())
        except Exception:
            log.warning("digest run failed; retrying at the next interval", exc_info=True)
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except TimeoutError:
            pass
