"""One delivery attempt: the row it needs, the send per channel, recording the result.

The worker reads everything an attempt needs (delivery and subscription
columns, :class:`Due`) in its dispatch query and carries it into the attempt,
instead of re-reading both rows before the send and again after it. The
result is recorded in one transaction: one UPDATE that applies only if the
delivery is still pending at the attempt count we sent with (so a delivery
deleted, or recorded by someone else, in the meantime is left alone), the
outbox INSERT, and — when its queue has more — the next due delivery of the
same queue, read in that same transaction.
"""

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
from sqlalchemy import select as sa_select
from sqlalchemy import update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from shared import tracing
from shared.db import utcnow
from shared.events.notifications import NotificationDeadLettered, NotificationDelivered
from shared.outbox import record_event

from .channels import email, webhook
from .domain import (
    AttemptResult,
    Channel,
    DeliveryStatus,
    IPNetwork,
    Outcome,
    next_attempt_delay,
)
from .matching import subscriptions_changed
from .messages import Links, describe
from .models import Delivery, Subscription
from .settings import NotificationsSettings

SERVICE = "notifications"
Key = tuple[UUID, str]


@dataclass(frozen=True, slots=True)
class Due:
    """A pending delivery and what its subscription says about sending it."""

    id: UUID
    subscription_id: UUID
    subject: str
    event_id: str
    event_type: str
    payload: str
    attempts: int
    channel: str
    target: str
    secret: str | None
    previous_secret: str | None
    previous_secret_expires_at: datetime | None

    @property
    def key(self) -> Key:
        """The order queue: one NC or CAPA at one subscriber."""
        return self.subscription_id, self.subject


def due_query() -> Any:
    """Pending deliveries of active subscriptions, as :class:`Due` columns (add the WHERE)."""
    return (sa_select(col(Delivery.id), col(Delivery.subscription_id), col(Delivery.subject),
                   col(Delivery.event_id), col(Delivery.event_type), col(Delivery.payload),
                   col(Delivery.attempts), col(Subscription.channel), col(Subscription.target),
                   col(Subscription.secret), col(Subscription.previous_secret),
                   col(Subscription.previous_secret_expires_at))
            .join(Subscription, col(Subscription.id) == col(Delivery.subscription_id))
            .where(col(Delivery.status) == DeliveryStatus.pending.value,
                   col(Subscription.active).is_(True)))


async def send(due: Due, *, client: httpx.AsyncClient, settings: NotificationsSettings,
               allowed: tuple[IPNetwork, ...], links: Links, now: datetime) -> AttemptResult:
    channel = Channel(due.channel)
    if channel is Channel.webhook:
        secrets = [s for s in (due.secret,) if s]
        if (due.previous_secret and due.previous_secret_expires_at
                and due.previous_secret_expires_at > now):
            secrets.append(due.previous_secret)
        headers = webhook.signed_headers(secrets=secrets, msg_id=str(due.id), timestamp=now,
                                         body=due.payload)
        # The receiver joins the trace that started with the original request.
        headers["traceparent"] = tracing.child_of(_traceparent(due.payload))
        return await webhook.post(client, url=due.target, body=due.payload, headers=headers,
                                  allowed=allowed, timeout=settings.delivery_timeout, now=now)
    message = describe(json.loads(due.payload), links)
    if channel is Channel.slack:
        body = webhook.dumps(webhook.slack_payload(title=message.title, lines=message.lines,
                                                   link=message.link))
        return await webhook.post(client, url=due.target, body=body,
                                  headers={"content-type": "application/json"},
                                  allowed=allowed, timeout=settings.delivery_timeout, now=now)
    mail = email.render(sender=settings.mail_from, to=due.target, subject=message.title,
                        context=message.context(), message_id=str(due.id))
    return await email.send(mail, host=settings.smtp_host, port=settings.smtp_port,
                            timeout=settings.delivery_timeout, username=settings.smtp_username,
                            password=settings.smtp_password, start_tls=settings.smtp_start_tls)


def _traceparent(payload: str) -> str | None:
    value = json.loads(payload).get("traceparent")
    return value if isinstance(value, str) else None


async def record(session: AsyncSession, due: Due, result: AttemptResult, *, started: datetime,
                 settings: NotificationsSettings) -> bool:
    """Write one attempt's outcome; False when the delivery changed meanwhile (nothing
    written). A 410 also needs :func:`disable_gone` in the same transaction."""
    now = utcnow()
    attempts = due.attempts + 1
    values: dict[str, Any] = {"attempts": attempts, "last_attempt_at": started,
                              "last_status_code": result.status_code,
                              "last_error": result.error}
    delay = None
    if result.outcome is Outcome.retry:
        delay = next_attempt_delay(attempts=attempts, schedule=settings.retry_schedule,
                                   retry_after=result.retry_after, jitter=settings.retry_jitter)
    if result.outcome is Outcome.delivered:
        values |= {"status": DeliveryStatus.delivered.value, "delivered_at": now,
                   "next_attempt_at": None}
    elif delay is not None:
        # Measured from the attempt's start, so Retry-After is honoured in full.
        values["next_attempt_at"] = started + timedelta(seconds=delay)
    else:
        values |= {"status": DeliveryStatus.dead_lettered.value, "next_attempt_at": None}
    updated = await session.exec(update(Delivery)  # type: ignore[call-overload]
                                 .where(col(Delivery.id) == due.id,
                                        col(Delivery.status) == DeliveryStatus.pending.value,
                                        col(Delivery.attempts) == due.attempts)
                                 .values(**values)
                                 # No Delivery objects live in this session to refresh.
                                 .execution_options(synchronize_session=False))
    if updated.rowcount != 1:
        return False  # deleted, or recorded by someone else, while we were sending
    common: dict[str, Any] = dict(
        delivery_id=due.id, subscription_id=due.subscription_id, channel=due.channel,
        source_event_id=due.event_id, source_event_type=due.event_type, attempts=attempts)
    if result.outcome is Outcome.delivered:
        record_event(session, service=SERVICE, data=NotificationDelivered(
            **common, status_code=result.status_code, delivered_at=now))
    elif delay is None:
        record_event(session, service=SERVICE, data=NotificationDeadLettered(
            **common, last_status_code=result.status_code, last_error=result.error,
            dead_lettered_at=now))
    return True


async def disable_gone(session: AsyncSession, subscription_ids: Iterable[UUID]) -> None:
    """Pause subscriptions whose endpoint answered 410 Gone.

    Called after the batch's delivery UPDATEs: every writer takes delivery
    rows before subscription rows before the revision row, so a batch and a
    concurrent subscription delete cannot deadlock.
    """
    ids = sorted(set(subscription_ids))
    if not ids:
        return
    now = utcnow()
    await session.exec(update(Subscription)  # type: ignore[call-overload]
                       .where(col(Subscription.id).in_(ids))
                       .values(active=False, updated_at=now, disabled_reason=(
                           f"The endpoint answered 410 Gone on {now.isoformat()}."))
                       .execution_options(synchronize_session=False))
    await subscriptions_changed(session)


async def next_due(session: AsyncSession, key: Key) -> tuple[Due | None, bool]:
    """The head of a queue if it is due now, and whether more wait behind it."""
    subscription_id, subject = key
    rows = (await session.exec(
        due_query().add_columns(col(Delivery.next_attempt_at))
        .where(col(Delivery.subscription_id) == subscription_id,
               col(Delivery.subject) == subject)
        .order_by(col(Delivery.seq)).limit(2))).all()
    if not rows or rows[0][-1] is None or rows[0][-1] > utcnow():
        return None, False
    return Due(*rows[0][:-1]), len(rows) > 1
