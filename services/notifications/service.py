"""Use cases and event handlers of the notifications service.

The handler table is the one place that says which events this service
reacts to; unknown types are ignored by the consumer. Every use case that
writes commits here (``transaction``), never in the routers.
"""

import json
import secrets
from datetime import timedelta
from uuid import UUID, uuid4

from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.auth import Principal
from shared.db import SessionFactory, transaction, utcnow
from shared.events.catalog import CAPA_TOPIC, CATALOG, NONCONFORMITY_TOPIC
from shared.http.errors import Problem
from shared.idempotency import Claim, complete
from shared.inbox import HandlerTable
from shared.runtime import Subscriptions

from .channels.guard import TargetRefused, check_target
from .domain import Channel, DeliveryMode, DeliveryStatus, parse_networks
from .matching import EventMatcher, match_event, subscriptions_changed
from .messages import TEST_TYPE
from .models import Delivery, Subscription
from .schemas import (
    SecretRotated,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionFilter,
    SubscriptionPublic,
    SubscriptionUpdate,
)
from .settings import NotificationsSettings
from .targets import TARGET_NOT_ALLOWED, fits

SERVICE = "notifications"


HANDLERS: HandlerTable = {
    model: match_event for model in CATALOG.values()
    if model.topic in (NONCONFORMITY_TOPIC, CAPA_TOPIC)
}

SUBSCRIPTIONS = [Subscriptions(group="notifications", topics=[NONCONFORMITY_TOPIC, CAPA_TOPIC],
                               handlers=HANDLERS)]


def with_matcher(subscriptions: list[Subscriptions],
                 matcher: EventMatcher) -> list[Subscriptions]:
    """The consumer table with one app's matcher (its filter cache and worker wake-up)
    in place of ``match_event``; groups and topics as given (the bench renames groups)."""
    return [Subscriptions(group=s.group, topics=s.topics,
                          handlers={m: matcher if h is match_event else h
                                    for m, h in s.handlers.items()})
            for s in subscriptions]


# --- subscriptions ----------------------------------------------------------

def may_act_for_others(principal: Principal) -> bool:
    return principal.holds_any(["manager"])


def public(sub: Subscription) -> SubscriptionPublic:
    return SubscriptionPublic(
        id=sub.id, owner=sub.owner, channel=Channel(sub.channel), target=sub.target,
        filter=SubscriptionFilter.model_validate(json.loads(sub.filter)), active=sub.active,
        mode=DeliveryMode(sub.mode), description=sub.description,
        disabled_reason=sub.disabled_reason,
        previous_secret_expires_at=sub.previous_secret_expires_at,
        created_at=sub.created_at, updated_at=sub.updated_at)


def new_secret() -> str:
    # Standard Webhooks secrets: "whsec_" + base64 of 24 random bytes.
    import base64

    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


async def check_subscription_target(channel: Channel, target: str,
                                    settings: NotificationsSettings) -> None:
    """The shape the OpenAPI states (targets.py), then the SSRF guard: a refusal
    of where the host points has its own problem type (TARGET_NOT_ALLOWED)."""
    if not fits(channel, target):
        raise Problem(422, "The target of an e-mail subscription must be an e-mail address."
                      if channel is Channel.email else
                      "The target URL is not valid: give an http:// or https:// URL with a "
                      "host name or IP address, no user name or password, and printable "
                      "ASCII after the host.",
                      title="Invalid target", field="target")
    if channel is Channel.email:
        return
    try:
        await check_target(target, parse_networks(settings.allowed_networks))
    except TargetRefused as exc:
        raise Problem(422, str(exc), title="Target refused", type_=TARGET_NOT_ALLOWED,
                      field="target") from exc


async def create_subscription(sessions: SessionFactory, *, principal: Principal,
                              request: SubscriptionCreate, settings: NotificationsSettings,
                              claim: Claim | None = None) -> SubscriptionCreated:
    owner = request.owner or principal.subject
    if owner != principal.subject and not may_act_for_others(principal):
        raise Problem(403, "Only a manager may create subscriptions for someone else.",
                      title="Forbidden")
    await check_subscription_target(request.channel, request.target, settings)
    now = utcnow()
    sub = Subscription(owner=owner, channel=request.channel.value, target=request.target,
                       mode=request.mode.value, active=request.active,
                       filter=request.filter.model_dump_json(), description=request.description,
                       secret=new_secret() if request.channel is Channel.webhook else None,
                       created_at=now, updated_at=now)
    created = SubscriptionCreated(**public(sub).model_dump(), secret=sub.secret)
    async with transaction(sessions) as session:
        session.add(sub)
        await complete(session, claim, status=201, body=created.model_dump(mode="json"))
        await subscriptions_changed(session)
    return created


async def load_visible(session: AsyncSession, subscription_id: UUID,
                       principal: Principal) -> Subscription:
    sub = await session.get(Subscription, subscription_id)
    # Someone else's subscription is "not found", not "forbidden": ids do not leak.
    if sub is None or (sub.owner != principal.subject and not may_act_for_others(principal)):
        raise Problem(404, f"There is no subscription {subscription_id} you can see.",
                      title="Subscription not found")
    return sub


async def update_subscription(sessions: SessionFactory, *, principal: Principal,
                              subscription_id: UUID, request: SubscriptionUpdate,
                              settings: NotificationsSettings) -> SubscriptionPublic:
    nulls = [name for name, value in request.model_dump(exclude_unset=True).items()
             if value is None and name != "description"]
    if nulls:
        raise Problem(422, f"{', '.join(nulls)} cannot be null; leave a field out to keep it.",
                      title="Invalid update", field=nulls[0])
    async with sessions() as session:
        current = await load_visible(session, subscription_id, principal)
    if request.target is not None:
        channel = Channel(current.channel)
        if not fits(channel, request.target) and any(
                fits(other, request.target) for other in Channel if other is not channel):
            # Well-formed, for another channel: the schema cannot see this one's.
            raise Problem(409, f"This is a {channel.value} subscription; the target has the "
                          "shape of another channel's, and the channel does not change "
                          "(create a new subscription for it).",
                          title="Target does not fit the channel", field="target",
                          channel=channel.value)
        await check_subscription_target(channel, request.target, settings)
    async with transaction(sessions) as session:
        sub = await load_visible(session, subscription_id, principal)
        changes = request.model_dump(exclude_unset=True)
        for name in ("target", "description"):
            if name in changes:
                setattr(sub, name, changes[name])
        if request.filter is not None:
            sub.filter = request.filter.model_dump_json()
        if request.mode is not None:
            sub.mode = request.mode.value
        if request.active is not None:
            sub.active = request.active
            if request.active:
                sub.disabled_reason = None
        sub.updated_at = utcnow()
        session.add(sub)
        await subscriptions_changed(session)
        return public(sub)


async def delete_subscription(sessions: SessionFactory, *, principal: Principal,
                              subscription_id: UUID) -> None:
    async with transaction(sessions) as session:
        sub = await load_visible(session, subscription_id, principal)
        # The recorder's lock order (see recorder.py): delivery rows in id order,
        # then the subscription row, then the revision row. A bare DELETE locks
        # the deliveries in scan order, which deadlocks with a recorder batch
        # updating them in id order (on SQLite FOR UPDATE is a no-op: one writer).
        await session.exec(select(Delivery.id)
                           .where(col(Delivery.subscription_id) == sub.id)
                           .order_by(col(Delivery.id)).with_for_update())
        await session.exec(delete(Delivery)  # type: ignore[call-overload]
                           .where(col(Delivery.subscription_id) == sub.id))
        await session.delete(sub)
        await session.flush()  # the subscription row before the revision row
        await subscriptions_changed(session)


async def rotate_secret(sessions: SessionFactory, *, principal: Principal,
                        subscription_id: UUID, overlap: timedelta) -> SecretRotated:
    async with transaction(sessions) as session:
        sub = await load_visible(session, subscription_id, principal)
        if sub.channel != Channel.webhook.value:
            raise Problem(409, "Only webhook subscriptions have a signing secret.",
                          title="No secret to rotate")
        now = utcnow()
        if (overlap > timedelta(0) and sub.previous_secret and sub.previous_secret_expires_at
                and sub.previous_secret_expires_at > now):
            # A second rotation now would drop the secret receivers may still
            # hold (a retried request would do just that): one overlap at a time.
            raise Problem(409, "A rotation is still in its overlap period, until "
                          f"{sub.previous_secret_expires_at.isoformat()}; rotate again after "
                          "it, or with overlap_seconds 0 to drop the old secrets now.",
                          title="Rotation in progress",
                          overlap_ends_at=sub.previous_secret_expires_at.isoformat())
        sub.previous_secret, sub.secret = sub.secret, new_secret()
        sub.previous_secret_expires_at = now + overlap
        sub.updated_at = now
        session.add(sub)
        assert sub.secret is not None
        return SecretRotated(secret=sub.secret,
                             previous_secret_expires_at=sub.previous_secret_expires_at)


async def send_test_event(sessions: SessionFactory, *, principal: Principal,
                          subscription_id: UUID) -> Delivery:
    """Queue a signed test event for the delivery worker; returns the delivery."""
    async with transaction(sessions) as session:
        sub = await load_visible(session, subscription_id, principal)
        if not sub.active:
            raise Problem(409, "The subscription is not active; activate it first "
                          "(PATCH active=true).", title="Subscription inactive")
        now = utcnow()
        event_id = str(uuid4())
        envelope = {"specversion": "1.0", "id": event_id, "source": f"/capaflow/{SERVICE}",
                    "type": TEST_TYPE, "subject": str(sub.id),
                    "time": now.isoformat().replace("+00:00", "Z"),
                    "datacontenttype": "application/json",
                    "data": {"subscription_id": str(sub.id), "message": "test"}}
        delivery = Delivery(subscription_id=sub.id, event_id=event_id, event_type=TEST_TYPE,
                            subject=f"test:{event_id}", payload=json.dumps(envelope),
                            next_attempt_at=now, created_at=now)
        session.add(delivery)
        return delivery


async def retry_delivery(sessions: SessionFactory, *, principal: Principal,
                         delivery_id: UUID) -> Delivery:
    async with transaction(sessions) as session:
        delivery = await load_visible_delivery(session, delivery_id, principal)
        if delivery.status != DeliveryStatus.dead_lettered.value:
            raise Problem(409, f"Only dead-lettered deliveries can be retried; this one is "
                          f"{delivery.status}.", title="Not dead-lettered")
        delivery.status = DeliveryStatus.pending.value
        delivery.attempts = 0
        delivery.next_attempt_at = utcnow()
        session.add(delivery)
        return delivery


async def load_visible_delivery(session: AsyncSession, delivery_id: UUID,
                                principal: Principal) -> Delivery:
    delivery = await session.get(Delivery, delivery_id)
    if delivery is not None:
        sub = await session.get(Subscription, delivery.subscription_id)
        if sub is not None and (sub.owner == principal.subject
                                or may_act_for_others(principal)):
            return delivery
    raise Problem(404, f"There is no delivery {delivery_id} you can see.",
                  title="Delivery not found")
