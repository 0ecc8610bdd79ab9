"""Delivery use cases behind the API: a test send, a replay of a dead letter.

Both queue a delivery and announce it on commit (``deliveries_queued``), so
the delivery worker of this process starts it at once; in a process without
one, the workers' next poll finds it.
"""

import json
from uuid import UUID, uuid4

from sqlmodel.ext.asyncio.session import AsyncSession

from shared.auth import Principal
from shared.db import SessionFactory, transaction, utcnow
from shared.errors import Conflict, NotFound

from ..domain import DeliveryStatus
from ..models import Delivery, Subscription
from ..schemas import DeliveryPublic
from .matching import deliveries_queued
from .messages import TEST_TYPE
from .subscriptions import load_visible, may_act_for_others

# The CloudEvents source of the test events this service makes up itself.
SOURCE = "/capaflow/notifications"


def delivery_public(delivery: Delivery) -> DeliveryPublic:
    return DeliveryPublic.model_validate(delivery, from_attributes=True)


async def send_test_event(sessions: SessionFactory, *, principal: Principal,
                          subscription_id: UUID) -> DeliveryPublic:
    """Queue a signed test event for the delivery worker; returns the delivery."""
    async with transaction(sessions) as session:
        sub = await load_visible(session, subscription_id, principal)
        if not sub.active:
            raise Conflict("The subscription is not active; activate it first "
                           "(PATCH active=true).", title="Subscription inactive")
        now = utcnow()
        event_id = str(uuid4())
        envelope = {"specversion": "1.0", "id": event_id, "source": SOURCE,
                    "type": TEST_TYPE, "subject": str(sub.id),
                    "time": now.isoformat().replace("+00:00", "Z"),
                    "datacontenttype": "application/json",
                    "data": {"subscription_id": str(sub.id), "message": "test"}}
        delivery = Delivery(subscription_id=sub.id, event_id=event_id, event_type=TEST_TYPE,
                            subject=f"test:{event_id}", payload=json.dumps(envelope),
                            next_attempt_at=now, created_at=now)
        session.add(delivery)
        deliveries_queued(session, [delivery.id])
        return delivery_public(delivery)


async def retry_delivery(sessions: SessionFactory, *, principal: Principal,
                         delivery_id: UUID) -> DeliveryPublic:
    """Replay a dead-lettered delivery (same webhook-id), from a fresh retry schedule."""
    async with transaction(sessions) as session:
        delivery = await load_visible_delivery(session, delivery_id, principal)
        if delivery.status != DeliveryStatus.dead_lettered.value:
            raise Conflict(f"Only dead-lettered deliveries can be retried; this one is "
                           f"{delivery.status}.", title="Not dead-lettered")
        delivery.status = DeliveryStatus.pending.value
        delivery.attempts = 0
        delivery.next_attempt_at = utcnow()
        session.add(delivery)
        deliveries_queued(session, [delivery.id])
        return delivery_public(delivery)


async def load_visible_delivery(session: AsyncSession, delivery_id: UUID,
                                principal: Principal) -> Delivery:
    delivery = await session.get(Delivery, delivery_id)
    if delivery is not None:
        sub = await session.get(Subscription, delivery.subscription_id)
        if sub is not None and (sub.owner == principal.subject
                                or may_act_for_others(principal)):
            return delivery
    raise NotFound(f"There is no delivery {delivery_id} you can see.",
                   title="Delivery not found")


async def get_delivery(sessions: SessionFactory, *, principal: Principal,
                       delivery_id: UUID) -> DeliveryPublic:
    async with sessions() as session:
        return delivery_public(await load_visible_delivery(session, delivery_id, principal))
