"""The delivery worker: sends due deliveries, retries, dead-letters.

Order: deliveries of one (subscription, subject) — one NC or CAPA at one
subscriber — go out one at a time in event order; everything else runs
concurrently, so a slow or dead endpoint only holds up its own queue. The
schedule lives in the database (``next_attempt_at``) and survives restarts.
Run one worker per database (like the outbox relay).
"""

import asyncio
import json
import logging
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
from prometheus_client import Counter
from sqlalchemy import and_, func
from sqlmodel import col, select

from shared import tracing
from shared.db import SessionFactory, transaction, utcnow
from shared.events.notifications import NotificationDeadLettered, NotificationDelivered
from shared.outbox import record_event

from .channels import email, webhook
from .domain import (
    AttemptResult,
    Channel,
    DeliveryStatus,
    Outcome,
    next_attempt_delay,
    parse_networks,
)
from .messages import Links, describe
from .models import Delivery, Subscription
from .settings import NotificationsSettings

log = logging.getLogger(__name__)
SERVICE = "notifications"
# How many deliveries one drain sends back to back before yielding to the others.
DRAIN_LIMIT = 100

ATTEMPTS = Counter("capaflow_notification_attempts", "Delivery attempts by channel and outcome",
                   ["channel", "outcome"])


class DeliveryWorker:
    def __init__(self, *, sessions: SessionFactory, settings: NotificationsSettings,
                 client: httpx.AsyncClient | None = None) -> None:
        self._sessions = sessions
        self._settings = settings
        self._allowed = parse_networks(settings.allowed_networks)
        self._links = Links(settings.public_base_url, settings.nonconformity_base_url)
        self._client = client or httpx.AsyncClient(
            follow_redirects=False, trust_env=False,
            limits=httpx.Limits(max_connections=settings.delivery_concurrency))
        self._in_flight: set[tuple[UUID, str]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(settings.delivery_concurrency)

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    await self.dispatch_due()
                except Exception:
                    log.warning("delivery worker failed; retrying", exc_info=True)
                try:
                    await asyncio.wait_for(stop.wait(),
                                           timeout=self._settings.delivery_poll_interval)
                except TimeoutError:
                    pass
        finally:
            if self._tasks:
                # An attempt cut short stays pending and is sent again after a restart.
                _, pending = await asyncio.wait(self._tasks, timeout=5)
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
            await self._client.aclose()

    async def dispatch_due(self) -> int:
        """Start an attempt for the head of every queue that is due; returns how many."""
        now = utcnow()
        heads = (select(col(Delivery.subscription_id).label("sid"),
                        col(Delivery.subject).label("subj"),
                        func.min(Delivery.seq).label("seq"))
                 .where(col(Delivery.status) == DeliveryStatus.pending.value)
                 .group_by(col(Delivery.subscription_id), col(Delivery.subject)).subquery())
        query = (select(Delivery.id, Delivery.subscription_id, Delivery.subject)
                 .join(heads, and_(col(Delivery.subscription_id) == heads.c.sid,
                                   col(Delivery.subject) == heads.c.subj,
                                   col(Delivery.seq) == heads.c.seq))
                 .join(Subscription, col(Subscription.id) == col(Delivery.subscription_id))
                 .where(col(Delivery.status) == DeliveryStatus.pending.value,
                        col(Subscription.active).is_(True),
                        col(Delivery.next_attempt_at) <= now)
                 .order_by(col(Delivery.next_attempt_at))
                 .limit(self._settings.delivery_batch_size))
        async with self._sessions() as session:
            rows = (await session.exec(query)).all()
        started = 0
        for delivery_id, subscription_id, subject in rows:
            key = (subscription_id, subject)
            if key in self._in_flight:
                continue
            self._in_flight.add(key)
            task = asyncio.create_task(self._attempt_guarded(delivery_id, key))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            started += 1
        return started

    async def _attempt_guarded(self, delivery_id: UUID, key: tuple[UUID, str]) -> None:
        """Send the head of one queue and, while that works, the next ones behind it."""
        try:
            async with self._slots:
                next_id: UUID | None = delivery_id
                for _ in range(DRAIN_LIMIT):
                    assert next_id is not None
                    result = await self.attempt(next_id)
                    if result is None or result.outcome is not Outcome.delivered:
                        break
                    next_id = await self._next_due(key)
                    if next_id is None:
                        break
        except Exception:
            log.exception("delivery attempt %s crashed", delivery_id)
        finally:
            self._in_flight.discard(key)

    async def _next_due(self, key: tuple[UUID, str]) -> UUID | None:
        subscription_id, subject = key
        async with self._sessions() as session:
            row = (await session.exec(
                select(Delivery.id, Delivery.next_attempt_at)
                .where(col(Delivery.subscription_id) == subscription_id,
                       col(Delivery.subject) == subject,
                       col(Delivery.status) == DeliveryStatus.pending.value)
                .order_by(col(Delivery.seq)).limit(1))).first()
        if row is None or row[1] is None or row[1] > utcnow():
            return None
        return row[0]

    async def attempt(self, delivery_id: UUID) -> AttemptResult | None:
        async with self._sessions() as session:
            delivery = await session.get(Delivery, delivery_id)
            sub = (await session.get(Subscription, delivery.subscription_id)
                   if delivery is not None else None)
        if delivery is None or sub is None or delivery.status != DeliveryStatus.pending.value:
            return None
        started = utcnow()
        result = await self._send(sub, delivery, started)
        await self._record(delivery_id, result, started)
        ATTEMPTS.labels(sub.channel, result.outcome.value).inc()
        return result

    async def _send(self, sub: Subscription, delivery: Delivery,
                    now: datetime) -> AttemptResult:
        settings = self._settings
        envelope: dict[str, Any] = json.loads(delivery.payload)
        channel = Channel(sub.channel)
        if channel is Channel.webhook:
            secrets = [s for s in (sub.secret,) if s]
            if (sub.previous_secret and sub.previous_secret_expires_at
                    and sub.previous_secret_expires_at > now):
                secrets.append(sub.previous_secret)
            headers = webhook.signed_headers(secrets=secrets, msg_id=str(delivery.id),
                                             timestamp=now, body=delivery.payload)
            # The receiver joins the trace that started with the original request.
            headers["traceparent"] = tracing.child_of(envelope.get("traceparent"))
            return await webhook.post(self._client, url=sub.target, body=delivery.payload,
                                      headers=headers, allowed=self._allowed,
                                      timeout=settings.delivery_timeout, now=now)
        message = describe(envelope, self._links)
        if channel is Channel.slack:
            body = webhook.dumps(webhook.slack_payload(title=message.title, lines=message.lines,
                                                       link=message.link))
            return await webhook.post(self._client, url=sub.target, body=body,
                                      headers={"content-type": "application/json"},
                                      allowed=self._allowed,
                                      timeout=settings.delivery_timeout, now=now)
        mail = email.render(sender=settings.mail_from, to=sub.target, subject=message.title,
                            context=message.context(), message_id=str(delivery.id))
        return await email.send(mail, host=settings.smtp_host, port=settings.smtp_port,
                                timeout=settings.delivery_timeout,
                                username=settings.smtp_username,
                                password=settings.smtp_password,
                                start_tls=settings.smtp_start_tls)

    async def _record(self, delivery_id: UUID, result: AttemptResult,
                      started: datetime) -> None:
        async with transaction(self._sessions) as session:
            delivery = await session.get(Delivery, delivery_id)
            sub = (await session.get(Subscription, delivery.subscription_id)
                   if delivery is not None else None)
            if delivery is None or sub is None or delivery.status != "pending":
                return  # deleted or changed while we were sending
            now = utcnow()
            delivery.attempts += 1
            delivery.last_attempt_at = started
            delivery.last_status_code = result.status_code
            delivery.last_error = result.error
            common: dict[str, Any] = dict(
                delivery_id=delivery.id, subscription_id=sub.id, channel=sub.channel,
                source_event_id=delivery.event_id, source_event_type=delivery.event_type,
                attempts=delivery.attempts)
            delay = None
            if result.outcome is Outcome.retry:
                delay = next_attempt_delay(attempts=delivery.attempts,
                                           schedule=self._settings.retry_schedule,
                                           retry_after=result.retry_after,
                                           jitter=self._settings.retry_jitter)
            if result.outcome is Outcome.delivered:
                delivery.status = DeliveryStatus.delivered.value
                delivery.delivered_at = now
                delivery.next_attempt_at = None
                record_event(session, service=SERVICE, data=NotificationDelivered(
                    **common, status_code=result.status_code, delivered_at=now))
            elif delay is not None:
                # Measured from the attempt's start, so Retry-After is honoured in full.
                delivery.next_attempt_at = started + timedelta(seconds=delay)
            else:
                delivery.status = DeliveryStatus.dead_lettered.value
                delivery.next_attempt_at = None
                record_event(session, service=SERVICE, data=NotificationDeadLettered(
                    **common, last_status_code=result.status_code, last_error=result.error,
                    dead_lettered_at=now))
            if result.outcome is Outcome.gone:
                sub.active = False
                sub.disabled_reason = f"The endpoint answered 410 Gone on {now.isoformat()}."
                sub.updated_at = now
                session.add(sub)
            session.add(delivery)
