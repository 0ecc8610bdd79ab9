"""One delivery attempt: the row it needs, the send per channel, recording the result.

The worker's claim (``claims.py``) returns everything an attempt needs
(delivery and subscription columns, :class:`Due`), so the attempt carries it
instead of re-reading both rows before the send and again after it.

Whatever happens while a delivery is built or sent is an attempt result,
never an exception out of :func:`send`: a payload the e-mail builder chokes
on or a URL httpx refuses counts as a failed attempt with its error, follows
the retry schedule and ends in the dead letter, instead of crashing the
attempt before it is counted and leaving the queue stuck behind it. Each
attempt also has a total deadline (``delivery_deadline``), so a receiver
trickling its answer cannot hold a worker slot past it.

The result is recorded with one UPDATE that applies only if the delivery is
still pending at the attempt count we sent with and still claimed by this
worker (a delivery deleted, or taken over after our claim expired, is left
alone); it clears the claim. The outbox row goes in the same transaction.
"""

import asyncio
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
from sqlalchemy import update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import utcnow
from shared.events.notifications import NotificationDeadLettered, NotificationDelivered
from shared.outbox import record_event

from ..channels import email, webhook
from ..domain import (
    AttemptResult,
    Channel,
    DeliveryStatus,
    IPNetwork,
    Outcome,
    next_attempt_delay,
)
from ..models import Delivery, Subscription
from ..settings import NotificationsSettings
from .matching import subscriptions_changed
from .messages import Links, describe

log = logging.getLogger(__name__)
SERVICE = "notifications"
# Longest error text kept on a delivery (the column holds 1000).
MAX_ERROR = 500
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
    # The record the subscription watches ("capa:<id>"), for the e-mail's unwatch hint.
    watching: str | None = None

    @property
    def key(self) -> Key:
        """The order queue: one NC or CAPA at one subscriber."""
        return self.subscription_id, self.subject


async def send(due: Due, *, client: httpx.AsyncClient, settings: NotificationsSettings,
               allowed: tuple[IPNetwork, ...], links: Links, now: datetime) -> AttemptResult:
    """Build and send one delivery; every failure is a result, never an exception."""
    deadline = settings.delivery_deadline
    try:
        async with asyncio.timeout(deadline):
            return await _send(due, client=client, settings=settings, allowed=allowed,
                               links=links, now=now)
    except TimeoutError:
        return AttemptResult(Outcome.retry, error=f"no complete answer within the {deadline:g} s "
                                                  "delivery deadline")
    except Exception as exc:
        # Not a receiver's answer but our building or sending failing on this
        # delivery's data: counted like any failure (retries, then the dead
        # letter, where a fix can replay it), and logged, since it is a bug or bad data.
        log.warning("delivery %s could not be built or sent", due.id, exc_info=True)
        return AttemptResult(Outcome.retry, error=f"{type(exc).__name__}: {exc}"[:MAX_ERROR])


async def _send(due: Due, *, client: httpx.AsyncClient, settings: NotificationsSettings,
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
        return await webhook.deliver(client, url=due.target, body=due.payload, headers=headers,
                                     allowed=allowed, timeout=settings.delivery_timeout,
                                     now=now, traceparent=_traceparent(due.payload))
    message = describe(json.loads(due.payload), links, watching=due.watching)
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
                 settings: NotificationsSettings, worker: str) -> bool:
    """Write one attempt's outcome, made by ``worker`` under its claim; False when the
    delivery changed meanwhile or is no longer ``worker``'s (nothing written). A 410
    also needs :func:`disable_gone` in the same transaction."""
    now = utcnow()
    attempts = due.attempts + 1
    values: dict[str, Any] = {"attempts": attempts, "last_attempt_at": started,
                              "last_status_code": result.status_code,
                              "last_error": result.error and result.error[:MAX_ERROR],
                              "claimed_by": None, "claim_expires_at": None}
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
    updated = await session.exec(update(Delivery)
                                 .where(col(Delivery.id) == due.id,
                                        col(Delivery.status) == DeliveryStatus.pending.value,
                                        col(Delivery.attempts) == due.attempts,
                                        col(Delivery.claimed_by) == worker)
                                 .values(**values)
                                 # No Delivery objects live in this session to refresh.
                                 .execution_options(synchronize_session=False))
    if updated.rowcount != 1:
        return False  # deleted, or taken over after our claim expired, while we were sending
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
    await session.exec(update(Subscription)
                       .where(col(Subscription.id).in_(ids))
                       .values(active=False, updated_at=now, disabled_reason=(
                           f"The endpoint answered 410 Gone on {now.isoformat()}."))
                       .execution_options(synchronize_session=False))
    await subscriptions_changed(session)
