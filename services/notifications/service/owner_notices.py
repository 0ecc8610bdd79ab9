"""Queuing owner notices (``domain.owner_notices``) beside the subscribers' deliveries.

A notice is a delivery like any other, so it has the retries, the dead letter,
the replay and the per-CAPA order of every e-mail. What it is delivered
through is the person's owner-notice subscription: a row the service creates
the first time it writes to that person (``purpose = "owner_notices"``,
unique per owner), which no filter matches and the subscriptions API does not
show; the deliveries on it are the owner's (``GET /v1/deliveries``).

Once each: the consumer's inbox makes a redelivered event a no-op, and the
delivery's unique (subscription, event) key settles anything else. The capa
service emits each reminder once, also with several replicas.
"""

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..domain import Channel, DeliveryMode, DeliveryStatus
from ..domain.owner_notices import owner_address, recipient
from ..models import Delivery, Subscription

log = logging.getLogger(__name__)
PURPOSE = "owner_notices"


def _insert(session: AsyncSession) -> Any:
    return (postgresql.insert if session.get_bind().dialect.name == "postgresql"
            else sqlite.insert)


@dataclass(frozen=True)
class NoticeEvent:
    """What the consumer knows of the event when it queues the notice."""

    event_id: str
    event_type: str
    subject: str
    position: int
    payload: str
    data: dict[str, Any]


@dataclass(frozen=True)
class OwnerNotices:
    """Settings of owner notices: on or off, and the domain of owners that are no address."""

    enabled: bool = True
    email_domain: str | None = None

    async def queue(self, session: AsyncSession, event: NoticeEvent,
                    now: datetime) -> UUID | None:
        """Queue the owner's e-mail for ``event``; its delivery id, or None if none is due."""
        person = recipient(event.event_type, event.data) if self.enabled else None
        if person is None:
            return None
        address = owner_address(person, self.email_domain)
        if address is None:
            why = ("set NOTIFICATIONS_OWNER_EMAIL_DOMAIN" if self.email_domain is None
                   else f"not an address, nor a name <name>@{self.email_domain} can take")
            log.info("no e-mail address for owner %r of %s %s (%s); subscriptions only",
                     person, event.event_type, event.subject, why)
            return None
        carrier = await _carrier(session, person, address, now)
        if carrier is None:
            return None
        delivery_id = uuid4()
        inserted = (await session.exec(_insert(session)(Delivery).values(
            id=delivery_id, subscription_id=carrier, event_id=event.event_id,
            event_type=event.event_type, subject=event.subject, seq=event.position,
            payload=event.payload, status=DeliveryStatus.pending.value, attempts=0,
            next_attempt_at=now, created_at=now)
            .on_conflict_do_nothing(index_elements=["subscription_id", "event_id"])
            .returning(col(Delivery.id)))).first()
        return delivery_id if inserted is not None else None


async def _carrier(session: AsyncSession, owner: str, address: str,
                   now: datetime) -> UUID | None:
    """The owner's notice subscription, created on first use and kept at ``address``;
    None when it was paused (``active`` false, set by an administrator in SQL)."""
    await session.exec(_insert(session)(Subscription).values(
        id=uuid4(), owner=owner, channel=Channel.email.value, target=address,
        mode=DeliveryMode.immediate.value, active=True, filter="{}",
        description="Reminders and overdue notices of what you own (sent by CAPAflow)",
        purpose=PURPOSE, created_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=["owner", "purpose"]))
    row = (await session.exec(select(Subscription.id, Subscription.target, Subscription.active)
                              .where(col(Subscription.owner) == owner,
                                     col(Subscription.purpose) == PURPOSE))).one()
    carrier, target, active = row
    if target != address:  # the owner e-mail domain changed since
        await session.exec(update(Subscription).where(col(Subscription.id) == carrier)
                           .values(target=address, updated_at=now)
                           .execution_options(synchronize_session=False))
    return carrier if active else None
