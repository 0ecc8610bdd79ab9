"""Read side: subscriptions and deliveries a caller may see, the lessons feed.

Lists are keyset-paginated (shared.pagination): subscriptions oldest first,
deliveries newest first.
"""

import json
from typing import Any
from uuid import UUID

from sqlmodel import col, select

from shared.auth import Principal
from shared.db import SessionFactory
from shared.pagination import TimeKeyset

from ..domain import DeliveryStatus
from ..domain.bulletin import BULLETIN_TYPE
from ..models import Delivery, ReceivedEvent, Subscription
from ..schemas import DeliveryPage, SubscriptionPage
from .deliveries import delivery_public
from .digests import LESSON_TYPE
from .subscriptions import may_act_for_others, public

_SUBSCRIPTIONS = TimeKeyset(col(Subscription.created_at), col(Subscription.id),
                            newest_first=False)
_DELIVERIES = TimeKeyset(col(Delivery.created_at), col(Delivery.id))


async def list_subscriptions(sessions: SessionFactory, *, principal: Principal,
                             owner: str | None, cursor: str | None,
                             limit: int) -> SubscriptionPage:
    """The caller's subscriptions; a manager's are everyone's (``owner`` filters)."""
    # Owner-notice carriers are the service's own (service.owner_notices).
    query = select(Subscription).where(col(Subscription.purpose).is_(None))
    if not may_act_for_others(principal):
        query = query.where(col(Subscription.owner) == principal.subject)
    elif owner is not None:
        query = query.where(col(Subscription.owner) == owner)
    async with sessions() as session:
        page, next_cursor = await _SUBSCRIPTIONS.fetch(session, query, cursor, limit)
    return SubscriptionPage(items=[public(s) for s in page], next_cursor=next_cursor)


async def list_deliveries(sessions: SessionFactory, *, principal: Principal,
                          status: DeliveryStatus | None, subscription_id: UUID | None,
                          event_type: str | None, cursor: str | None,
                          limit: int) -> DeliveryPage:
    """Newest first; the caller's own only, unless a manager."""
    query = (select(Delivery).join(Subscription,
                                   col(Subscription.id) == col(Delivery.subscription_id)))
    if not may_act_for_others(principal):
        query = query.where(col(Subscription.owner) == principal.subject)
    if status is not None:
        query = query.where(col(Delivery.status) == status.value)
    if subscription_id is not None:
        query = query.where(col(Delivery.subscription_id) == subscription_id)
    if event_type is not None:
        query = query.where(col(Delivery.event_type) == event_type)
    async with sessions() as session:
        page, next_cursor = await _DELIVERIES.fetch(session, query, cursor, limit)
    return DeliveryPage(items=[delivery_public(d) for d in page], next_cursor=next_cursor)


async def latest_lessons(sessions: SessionFactory, *, limit: int) -> list[dict[str, Any]]:
    """The envelopes of the newest published lessons learned and monthly bulletins
    (one entry each), newest first."""
    async with sessions() as session:
        rows = (await session.exec(select(ReceivedEvent.envelope)
                                   .where(col(ReceivedEvent.event_type).in_(
                                       [LESSON_TYPE, BULLETIN_TYPE]))
                                   .order_by(col(ReceivedEvent.position).desc())
                                   .limit(limit))).all()
    return [json.loads(r) for r in rows]
