"""Publishing the monthly lessons-learned bulletin (domain.bulletin).

Once per month, also with several replicas: the bulletin is stored as a received
event under the id ``lessons-bulletin:YYYY-MM`` (unique), inserted with ON
CONFLICT DO NOTHING in the transaction that queues its deliveries. The replica
whose insert wins queues them; the others insert nothing and queue nothing.
Stored there, the bulletin is also one entry of the lessons feeds and of the
live stream. Its deliveries are ordinary ones (channels, retries, dead letters):
e-mail subscribers get one message listing the month's lessons.
"""

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from prometheus_client import Counter
from sqlalchemy import insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import SessionFactory, transaction, utcnow
from shared.runtime import every

from ..domain import DeliveryStatus, EventFilter
from ..domain.bulletin import (
    BULLETIN_TYPE,
    bulletin_data,
    bulletin_month,
    wants_bulletin,
)
from ..models import Delivery, ReceivedEvent, Subscription
from .digests import LESSON_TYPE
from .matching import deliveries_queued

log = logging.getLogger(__name__)
# One per month across replicas: only the replica whose insert wins counts it.
PUBLISHED = Counter("capaflow_lessons_bulletins_published",
                    "Lessons-learned bulletins published (one per month)")


@dataclass(frozen=True)
class BulletinReport:
    month: str
    published: bool
    lessons: int
    deliveries: int


def bulletin_envelope(data: dict[str, Any], stamp: datetime) -> dict[str, Any]:
    """The bulletin's CloudEvent (its id: ``lessons-bulletin:YYYY-MM``)."""
    return {"specversion": "1.0", "id": data["bulletin_id"],
            "source": "/capaflow/notifications", "type": BULLETIN_TYPE,
            "subject": data["bulletin_id"], "time": stamp.isoformat().replace("+00:00", "Z"),
            "datacontenttype": "application/json", "data": data}


async def month_lessons(session: AsyncSession, start: datetime,
                         end: datetime) -> list[dict[str, Any]]:
    rows = (await session.exec(select(ReceivedEvent.envelope).where(
        col(ReceivedEvent.event_type) == LESSON_TYPE, col(ReceivedEvent.received_at) >= start,
        col(ReceivedEvent.received_at) < end).order_by(col(ReceivedEvent.position)))).all()
    return [dict(json.loads(row).get("data") or {}) for row in rows]


async def _store_once(session: AsyncSession, envelope: dict[str, Any],
                      now: datetime) -> int | None:
    """Insert the bulletin as a received event unless it exists; its position if inserted."""
    dialect = session.get_bind().dialect.name
    upsert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    row = (await session.exec(upsert(ReceivedEvent).values(
        event_id=envelope["id"], event_type=BULLETIN_TYPE, subject=envelope["subject"],
        envelope=json.dumps(envelope, default=str), received_at=now)
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(col(ReceivedEvent.position)))).first()
    return None if row is None else int(row[0])


async def _subscribers(session: AsyncSession, data: dict[str, Any]) -> list[UUID]:
    rows = (await session.exec(select(Subscription.id, Subscription.filter).where(
        col(Subscription.active).is_(True), col(Subscription.purpose).is_(None)))).all()
    return [sid for sid, raw in rows
            if wants_bulletin(EventFilter.from_dict(json.loads(raw)), data)]


async def publish_lessons_bulletin(sessions: SessionFactory, *,
                                   now: datetime) -> BulletinReport:
    """Publish the bulletin of the last finished month if it has lessons and is not
    published yet (see the module doc)."""
    start, end, month = bulletin_month(now)
    # ``now`` says which month is over; rows are stamped with the clock, so the
    # deliveries are due at once and digests see the bulletin when it happened.
    stamp = utcnow()
    async with transaction(sessions) as session:
        lessons = await month_lessons(session, start, end)
        if not lessons:
            return BulletinReport(month, False, 0, 0)
        data = bulletin_data(lessons, start=start, end=end, month=month)
        envelope = bulletin_envelope(data, stamp)
        position = await _store_once(session, envelope, stamp)
        if position is None:
            return BulletinReport(month, False, len(lessons), 0)
        payload = json.dumps(envelope, default=str)
        subscribers = await _subscribers(session, data)
        ids = [uuid4() for _ in subscribers]
        if subscribers:
            await session.exec(insert(Delivery), params=[
                {"id": delivery_id, "subscription_id": sid, "event_id": envelope["id"],
                 "event_type": BULLETIN_TYPE, "subject": envelope["subject"], "seq": position,
                 "payload": payload, "status": DeliveryStatus.pending.value, "attempts": 0,
                 "next_attempt_at": stamp, "created_at": stamp}
                for delivery_id, sid in zip(ids, subscribers, strict=True)])
            deliveries_queued(session, ids)
    PUBLISHED.inc()
    log.info("lessons bulletin %s published: %d lessons, %d deliveries", month, len(lessons),
             len(ids))
    return BulletinReport(month, True, len(lessons), len(ids))


async def run_bulletin_schedule(sessions: SessionFactory, stop: asyncio.Event,
                                interval: float) -> None:
    async def tick() -> None:
        await publish_lessons_bulletin(sessions, now=utcnow())

    await every(interval, stop, tick, what="lessons bulletin")
