"""Watch use cases: a person watches or unwatches one CAPA or nonconformity.

A watch is the caller's own e-mail subscription (``domain.watches``): the
owner is always the caller — there is no watching on someone else's behalf,
since the address must come from that person's own sign-in — and the address
is their verified identity's. Watching is idempotent: the (owner, watching)
pair is unique, so a double click, a retried request or two replicas at once
leave one subscription; watching again refreshes the address, resumes a
paused watch and may change its mode. Unwatching deletes it, and unwatching
what you do not watch is no error (the outcome is the same).
"""

from typing import Any
from uuid import uuid4

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.auth import Principal
from shared.db import SessionFactory, transaction, utcnow
from shared.errors import Conflict, NotFound

from ..domain import Channel, DeliveryMode
from ..domain.watches import Watch, watch_address
from ..models import Subscription
from ..schemas import SubscriptionFilter, SubscriptionPublic, WatchRequest
from ..settings import NotificationsSettings
from .matching import subscriptions_changed
from .subscriptions import public, remove

NO_EMAIL = "urn:capaflow:problem:no-email-address"


def _insert(session: AsyncSession) -> Any:
    return (postgresql.insert if session.get_bind().dialect.name == "postgresql"
            else sqlite.insert)


def address_of(principal: Principal, settings: NotificationsSettings) -> str:
    """The caller's own address, or a refusal saying why there is none."""
    address = watch_address(principal.email, principal.subject, settings.owner_email_domain)
    if address is None:
        raise Conflict(
            f"Your sign-in ({principal.subject}) carries no e-mail address, so CAPAflow "
            "has nowhere to write to you. Sign in through your company account (its "
            "e-mail is used), or ask an administrator to set "
            "NOTIFICATIONS_OWNER_EMAIL_DOMAIN.",
            title="No e-mail address to watch with", type_uri=NO_EMAIL)
    return address


async def _mine(session: AsyncSession, principal: Principal, watch: Watch) -> Subscription | None:
    return (await session.exec(select(Subscription).where(
        col(Subscription.owner) == principal.subject,
        col(Subscription.watching) == watch.key))).first()


async def watch(sessions: SessionFactory, *, principal: Principal, watch: Watch,
                request: WatchRequest, settings: NotificationsSettings
                ) -> tuple[SubscriptionPublic, bool]:
    """The caller's watch of the record, created if missing; and whether it was."""
    address = address_of(principal, settings)
    now = utcnow()
    async with transaction(sessions) as session:
        created = (await session.exec(_insert(session)(Subscription).values(
            id=uuid4(), owner=principal.subject, channel=Channel.email.value, target=address,
            mode=(request.mode or DeliveryMode.immediate).value, active=True,
            filter=_filter_json(watch), description=request.label, watching=watch.key,
            created_at=now, updated_at=now)
            .on_conflict_do_nothing(index_elements=["owner", "watching"])
            .returning(col(Subscription.id)))).first() is not None
        sub = await _mine(session, principal, watch)
        assert sub is not None  # inserted now, or the one that was there
        if not created:
            # Watching again: the address of today's sign-in, resumed, maybe a new mode.
            wanted: dict[str, Any] = {"target": address, "active": True,
                                      "disabled_reason": None}
            if request.mode is not None:
                wanted["mode"] = request.mode.value
            if request.label is not None:
                wanted["description"] = request.label
            if all(getattr(sub, k) == v for k, v in wanted.items()):
                return public(sub), False
            for name, value in wanted.items():
                setattr(sub, name, value)
            sub.updated_at = now
            session.add(sub)
        await subscriptions_changed(session)
        return public(sub), created


def _filter_json(watch: Watch) -> str:
    # Through the API model, so the stored JSON has the shape every other filter has.
    return SubscriptionFilter.model_validate(watch.filter()).model_dump_json()


async def get_watch(sessions: SessionFactory, *, principal: Principal,
                    watch: Watch) -> SubscriptionPublic:
    async with sessions() as session:
        sub = await _mine(session, principal, watch)
    if sub is None:
        raise NotFound(f"You do not watch this {watch.record.noun}.", title="Not watching")
    return public(sub)


async def unwatch(sessions: SessionFactory, *, principal: Principal, watch: Watch) -> bool:
    """Delete the caller's watch of the record; False when there was none."""
    async with transaction(sessions) as session:
        sub = await _mine(session, principal, watch)
        if sub is None:
            return False
        await remove(session, sub)
    return True
