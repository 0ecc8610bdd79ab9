"""Matching consumed events to subscriptions, with the parsed filters kept in memory.

Reloading every active subscription and ``json.loads``-ing its filter per
consumed event made the notifications consumer's cost grow with the number of
subscriptions (500 parses per event). An :class:`EventMatcher` keeps the
parsed filters of one *revision* of the subscriptions: every transaction that
changes what matches (create, update, delete, a 410 disabling one) bumps the
single ``subscriptions_revision`` row (:func:`subscriptions_changed`), and the
matcher reads that number in the same statement that numbers the event. A
change committed by any process (API replicas included) is therefore seen by
the next event, and an unchanged revision costs no extra round trip.
"""

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from cloudevents.core.v1.event import CloudEvent
from sqlalchemy import insert, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import signal_on_commit, utcnow
from shared.events.base import EventData
from shared.inbox import ConsumedEvent

from ..domain import DeliveryMode, DeliveryStatus, EventFilter
from ..models import Delivery, ReceivedEvent, Subscription, SubscriptionsRevision
from .owner_notices import NoticeEvent, OwnerNotices

REVISION_ROW = 1


def envelope_of(event: CloudEvent) -> dict[str, Any]:
    """The structured CloudEvents JSON of an event: what a webhook receives."""
    attributes = dict(event.get_attributes())
    time = attributes.get("time")
    if isinstance(time, datetime):
        attributes["time"] = time.isoformat().replace("+00:00", "Z")
    return {**attributes, "data": event.get_data()}


# The commit-signal channel (shared.db) on which a transaction that queued
# deliveries hands their ids to this process's delivery worker.
DELIVERIES_QUEUED = "notifications.deliveries-queued"


def deliveries_queued(session: AsyncSession, delivery_ids: Iterable[UUID]) -> None:
    """Announce deliveries the caller's transaction queued: once it commits, the
    delivery worker of this process (if it runs one) starts them at once; other
    processes' workers find them at their next poll."""
    signal_on_commit(session, DELIVERIES_QUEUED, delivery_ids)


async def subscriptions_changed(session: AsyncSession) -> None:
    """Mark the caller's transaction as changing what subscriptions match.

    Every process's cached filters turn stale when it commits. Call it in each
    transaction that creates, deletes or changes a subscription's filter,
    ``active`` or ``mode``.
    """
    await session.exec(update(SubscriptionsRevision)
                       .where(col(SubscriptionsRevision.id) == REVISION_ROW)
                       .values(revision=col(SubscriptionsRevision.revision) + 1))


class SubscriptionIndex:
    """The parsed filters of the active immediate subscriptions at one revision."""

    def __init__(self, revision: int | None, filters: list[tuple[UUID, EventFilter]]) -> None:
        self.revision = revision
        self._filters = filters
        # Candidates per event type: the type globs are tested once per type, not
        # per event. Bounded by the handler table's event types.
        self._by_type: dict[str, list[tuple[UUID, EventFilter]]] = {}

    def matching(self, event_type: str, data: Mapping[str, Any]) -> list[UUID]:
        candidates = self._by_type.get(event_type)
        if candidates is None:
            candidates = [(sid, f) for sid, f in self._filters if f.matches_type(event_type)]
            self._by_type[event_type] = candidates
        return [sid for sid, f in candidates if f.matches_data(data)]


class EventMatcher:
    """The inbox handler: numbers the event and queues one delivery per match.

    One per process (per app): the cache belongs to one database. No network
    I/O here; the delivery worker sends. The deliveries it queues are announced
    on commit (:func:`deliveries_queued`), so the worker of this process starts
    them at once instead of at its next poll.
    """

    def __init__(self, owner_notices: OwnerNotices | None = None) -> None:
        self._index: SubscriptionIndex | None = None
        self.reloads = 0
        # Reminders and overdue notices e-mailed to their owner, beside the matches.
        self.owner_notices = owner_notices or OwnerNotices()

    async def __call__(self, session: AsyncSession, event: ConsumedEvent[EventData]) -> None:
        await self.handle_many(session, [event])

    async def handle_many(self, session: AsyncSession,
                          events: Sequence[ConsumedEvent[EventData]]) -> None:
        """Number ``events`` (consumed in this order) and queue their deliveries: one
        INSERT for the events and one for their deliveries, whatever their number
        (the consumer hands a fetched batch here in one transaction)."""
        now = utcnow()
        envelopes = [envelope_of(event.envelope) for event in events]
        payloads = [json.dumps(envelope, default=str) for envelope in envelopes]
        revision_now = (select(SubscriptionsRevision.revision)
                        .where(col(SubscriptionsRevision.id) == REVISION_ROW).scalar_subquery())
        # The revision rides on the INSERT that numbers the events: no extra round
        # trip. Positions come back in the order of the events (parameter order).
        numbered = (await session.exec(
            insert(ReceivedEvent).returning(col(ReceivedEvent.position), revision_now,
                                            sort_by_parameter_order=True),
            params=[{"event_id": event.id, "event_type": event.type, "subject": event.subject,
              "envelope": payload, "received_at": now}
             for event, payload in zip(events, payloads, strict=True)])).all()
        index = await self._current(session, numbered[0][1])
        queued: list[UUID] = []
        rows: list[dict[str, Any]] = []
        notices: list[NoticeEvent] = []
        for event, envelope, payload, (position, _) in zip(events, envelopes, payloads,
                                                           numbered, strict=True):
            raw = envelope.get("data")
            data = raw if isinstance(raw, dict) else {}
            # Digest subscriptions are not in the index: their digest reads
            # received_events later.
            for sid in index.matching(event.type, data):
                queued.append(uuid4())
                rows.append({"id": queued[-1], "subscription_id": sid, "event_id": event.id,
                             "event_type": event.type, "subject": event.subject,
                             "seq": position, "payload": payload,
                             "status": DeliveryStatus.pending.value, "attempts": 0,
                             "next_attempt_at": now, "created_at": now})
            notices.append(NoticeEvent(event_id=event.id, event_type=event.type,
                                       subject=event.subject, position=position,
                                       payload=payload, data=data))
        if rows:
            await session.exec(insert(Delivery), params=rows)
        for notice in notices:
            queued_notice = await self.owner_notices.queue(session, notice, now)
            if queued_notice is not None:
                queued.append(queued_notice)
        if queued:
            # This process's delivery worker starts them once they are committed.
            deliveries_queued(session, queued)

    async def _current(self, session: AsyncSession, revision: int | None) -> SubscriptionIndex:
        index = self._index
        # A missing revision row (None) cannot vouch for the cache: reload every time.
        if index is not None and revision is not None and index.revision == revision:
            return index
        # Read after the revision in the same transaction, so the rows are at least
        # that new; a write in between only causes one more reload later.
        rows = (await session.exec(select(Subscription.id, Subscription.filter).where(
            col(Subscription.active).is_(True), col(Subscription.purpose).is_(None),
            col(Subscription.mode) == DeliveryMode.immediate.value))).all()
        self._index = SubscriptionIndex(
            revision, [(sid, EventFilter.from_dict(json.loads(raw))) for sid, raw in rows])
        self.reloads += 1
        return self._index
