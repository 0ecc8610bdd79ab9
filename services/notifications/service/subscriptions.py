"""Subscription use cases: create, change, delete, rotate the signing secret.

Who may see a subscription is decided here (:func:`load_visible`): its owner,
or a manager. Who may point e-mail at an address too (:func:`check_email_target`):
anyone at their own, only a manager or admin at another. Refusals are
shared.errors; the HTTP edge maps them.
"""

import base64
import json
import secrets
from datetime import timedelta
from uuid import UUID

from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.auth import Principal
from shared.db import SessionFactory, transaction, utcnow
from shared.errors import Conflict, Invalid, NotFound, NotPermitted
from shared.idempotency import Claim, complete

from ..channels.guard import TargetRefused, check_target
from ..domain import Channel, DeliveryMode, parse_networks
from ..domain.targets import TARGET_NOT_ALLOWED, fits
from ..domain.watches import Watch, watch_address
from ..models import Delivery, Subscription
from ..schemas import (
    SecretRotated,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionFilter,
    SubscriptionPublic,
    SubscriptionUpdate,
    WatchPublic,
)
from ..settings import NotificationsSettings
from .matching import subscriptions_changed


def may_act_for_others(principal: Principal) -> bool:
    return principal.holds_any(["manager"])


def check_email_target(principal: Principal, target: str,
                       settings: NotificationsSettings) -> None:
    """Only a manager or admin may have the service e-mail an address that is not the
    caller's own (the one their watches use, from their verified sign-in): anyone
    else could make CAPAflow mail a stranger CAPA details. A webhook or Slack URL
    names no person, so it is not checked here (the SSRF guard is its check)."""
    if may_act_for_others(principal):
        return
    own = watch_address(principal.email, principal.subject, settings.owner_email_domain)
    if own is not None and target.strip().casefold() == own.casefold():
        return
    yours = (f"your own address ({own})" if own is not None else
             "your own address, which your sign-in does not name")
    raise NotPermitted(f"An e-mail subscription may go only to {yours}; a manager or admin "
                       "can subscribe other addresses (a team list, a colleague).",
                       title="Not your e-mail address", field="target")


def public(sub: Subscription) -> SubscriptionPublic:
    return SubscriptionPublic(
        id=sub.id, owner=sub.owner, channel=Channel(sub.channel), target=sub.target,
        filter=SubscriptionFilter.model_validate(json.loads(sub.filter)), active=sub.active,
        mode=DeliveryMode(sub.mode), description=sub.description,
        disabled_reason=sub.disabled_reason,
        previous_secret_expires_at=sub.previous_secret_expires_at,
        created_at=sub.created_at, updated_at=sub.updated_at, watch=watch_of(sub))


def watch_of(sub: Subscription) -> WatchPublic | None:
    watch = Watch.from_key(sub.watching)
    return None if watch is None else WatchPublic(record=watch.record,
                                                  record_id=watch.record_id)


def new_secret() -> str:
    # Standard Webhooks secrets: "whsec_" + base64 of 24 random bytes.
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


async def check_subscription_target(channel: Channel, target: str,
                                    settings: NotificationsSettings) -> None:
    """The shape the OpenAPI states (domain.targets), then the SSRF guard: a refusal
    of where the host points has its own problem type (TARGET_NOT_ALLOWED)."""
    if not fits(channel, target):
        raise Invalid("The target of an e-mail subscription must be an e-mail address."
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
        raise Invalid(str(exc), title="Target refused", type_uri=TARGET_NOT_ALLOWED,
                      field="target") from exc


async def create_subscription(sessions: SessionFactory, *, principal: Principal,
                              request: SubscriptionCreate, settings: NotificationsSettings,
                              claim: Claim | None = None) -> SubscriptionCreated:
    owner = request.owner or principal.subject
    if owner != principal.subject and not may_act_for_others(principal):
        raise NotPermitted("Only a manager may create subscriptions for someone else.")
    await check_subscription_target(request.channel, request.target, settings)
    if request.channel is Channel.email:
        check_email_target(principal, request.target, settings)
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
    # Owner-notice carriers (service.owner_notices) are the service's own.
    if sub is None or sub.purpose is not None or (
            sub.owner != principal.subject and not may_act_for_others(principal)):
        raise NotFound(f"There is no subscription {subscription_id} you can see.",
                       title="Subscription not found")
    return sub


async def get_subscription(sessions: SessionFactory, *, principal: Principal,
                           subscription_id: UUID) -> SubscriptionPublic:
    async with sessions() as session:
        return public(await load_visible(session, subscription_id, principal))


async def update_subscription(sessions: SessionFactory, *, principal: Principal,
                              subscription_id: UUID, request: SubscriptionUpdate,
                              settings: NotificationsSettings) -> SubscriptionPublic:
    nulls = [name for name, value in request.model_dump(exclude_unset=True).items()
             if value is None and name != "description"]
    if nulls:
        raise Invalid(f"{', '.join(nulls)} cannot be null; leave a field out to keep it.",
                      title="Invalid update", field=nulls[0])
    async with sessions() as session:
        current = await load_visible(session, subscription_id, principal)
    _keep_watch(current, request)
    if request.target is not None:
        await _check_new_target(Channel(current.channel), request.target, principal, settings)
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


async def _check_new_target(channel: Channel, target: str, principal: Principal,
                            settings: NotificationsSettings) -> None:
    if not fits(channel, target) and any(
            fits(other, target) for other in Channel if other is not channel):
        # Well-formed, for another channel: the schema cannot see this one's.
        raise Conflict(f"This is a {channel.value} subscription; the target has the "
                       "shape of another channel's, and the channel does not change "
                       "(create a new subscription for it).",
                       title="Target does not fit the channel", field="target",
                       channel=channel.value)
    await check_subscription_target(channel, target, settings)
    if channel is Channel.email:
        check_email_target(principal, target, settings)


def _keep_watch(sub: Subscription, request: SubscriptionUpdate) -> None:
    """A watch's address comes from its owner's sign-in and its filter from the
    record: a changed one would no longer be that watch (nor surely theirs)."""
    if sub.watching is not None and (request.target is not None
                                     or request.filter is not None):
        raise Conflict("This subscription watches one record at the address of its "
                       "owner's sign-in; its target and filter do not change. Unwatch, "
                       "or create an ordinary subscription.",
                       title="A watch keeps its target and filter",
                       field="target" if request.target is not None else "filter")


async def delete_subscription(sessions: SessionFactory, *, principal: Principal,
                              subscription_id: UUID) -> None:
    async with transaction(sessions) as session:
        await remove(session, await load_visible(session, subscription_id, principal))


async def remove(session: AsyncSession, sub: Subscription) -> None:
    """Delete ``sub`` and its deliveries in the caller's transaction."""
    # The recorder's lock order (see recorder.py): delivery rows in id order,
    # then the subscription row, then the revision row. A bare DELETE locks
    # the deliveries in scan order, which deadlocks with a recorder batch
    # updating them in id order (on SQLite FOR UPDATE is a no-op: one writer).
    await session.exec(select(Delivery.id)
                       .where(col(Delivery.subscription_id) == sub.id)
                       .order_by(col(Delivery.id)).with_for_update())
    await session.exec(delete(Delivery)
                       .where(col(Delivery.subscription_id) == sub.id))
    await session.delete(sub)
    await session.flush()  # the subscription row before the revision row
    await subscriptions_changed(session)


async def rotate_secret(sessions: SessionFactory, *, principal: Principal,
                        subscription_id: UUID, overlap: timedelta) -> SecretRotated:
    async with transaction(sessions) as session:
        sub = await load_visible(session, subscription_id, principal)
        if sub.channel != Channel.webhook.value:
            raise Conflict("Only webhook subscriptions have a signing secret.",
                           title="No secret to rotate")
        now = utcnow()
        if (overlap > timedelta(0) and sub.previous_secret and sub.previous_secret_expires_at
                and sub.previous_secret_expires_at > now):
            # A second rotation now would drop the secret receivers may still
            # hold (a retried request would do just that): one overlap at a time.
            raise Conflict("A rotation is still in its overlap period, until "
                           f"{sub.previous_secret_expires_at.isoformat()}; rotate again "
                           "after it, or with overlap_seconds 0 to drop the old secrets now.",
                           title="Rotation in progress",
                           overlap_ends_at=sub.previous_secret_expires_at.isoformat())
        sub.previous_secret, sub.secret = sub.secret, new_secret()
        sub.previous_secret_expires_at = now + overlap
        sub.updated_at = now
        session.add(sub)
        assert sub.secret is not None
        return SecretRotated(secret=sub.secret,
                             previous_secret_expires_at=sub.previous_secret_expires_at)
