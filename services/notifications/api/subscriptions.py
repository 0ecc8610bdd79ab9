from datetime import timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse
from sqlmodel import col, select

from shared.http.concurrency import IdempotencyKey
from shared.http.pagination import (
    MAX_PAGE_SIZE,
    TimeCursor,
)
from shared.http.params import NO_NUL
from shared.idempotency import Claim, run_once
from shared.pagination import TimeKeyset

from .. import service
from ..models import Subscription
from ..schemas import (
    DeliveryPublic,
    RotateSecret,
    SecretRotated,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionPage,
    SubscriptionPublic,
    SubscriptionUpdate,
)
from . import Person, Sessions, Settings, WakeDeliveries

router = APIRouter(prefix="/v1/subscriptions", tags=["subscriptions"])


@router.post("", status_code=201, response_model=SubscriptionCreated)
async def create_subscription(body: SubscriptionCreate, principal: Person, sessions: Sessions,
                              settings: Settings,
                              idempotency_key: IdempotencyKey = None) -> Any:
    """Create a subscription. A webhook's signing secret is in this response only."""
    async def create(ticket: Claim | None) -> JSONResponse:
        created = await service.create_subscription(sessions, principal=principal, request=body,
                                                    settings=settings, claim=ticket)
        return JSONResponse(created.model_dump(mode="json"),
                            status_code=201)

    return await run_once(sessions, subject=principal.subject, key=idempotency_key,
                          payload=body.model_dump(mode="json"), use_case=create)


_OLDEST_FIRST = TimeKeyset(col(Subscription.created_at), col(Subscription.id),
                           newest_first=False)


@router.get("", response_model=SubscriptionPage)
async def list_subscriptions(principal: Person, sessions: Sessions,
                             owner: Annotated[str | None,
                                              Query(max_length=255, pattern=NO_NUL)] = None,
                             cursor: TimeCursor = None,
                             limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50) -> Any:
    """Your subscriptions; managers see everyone's (``owner`` filters)."""
    query = select(Subscription)
    if not service.may_act_for_others(principal):
        query = query.where(col(Subscription.owner) == principal.subject)
    elif owner is not None:
        query = query.where(col(Subscription.owner) == owner)
    async with sessions() as session:
        rows = (await session.exec(_OLDEST_FIRST.select(query, cursor, limit))).all()
    page, next_cursor = _OLDEST_FIRST.page(rows, limit)
    return SubscriptionPage(items=[service.public(s) for s in page], next_cursor=next_cursor)



@router.get("/{subscription_id}", response_model=SubscriptionPublic)
async def get_subscription(subscription_id: UUID, principal: Person,
                           sessions: Sessions) -> Any:
    async with sessions() as session:
        return service.public(await service.load_visible(session, subscription_id, principal))


@router.patch("/{subscription_id}", response_model=SubscriptionPublic)
async def update_subscription(subscription_id: UUID, body: SubscriptionUpdate,
                              principal: Person, sessions: Sessions,
                              settings: Settings) -> Any:
    """Change target, filter, mode or active; re-activating clears a 410 disable."""
    return await service.update_subscription(sessions, principal=principal,
                                             subscription_id=subscription_id, request=body,
                                             settings=settings)


@router.delete("/{subscription_id}", status_code=204)
async def delete_subscription(subscription_id: UUID, principal: Person,
                              sessions: Sessions) -> Response:
    await service.delete_subscription(sessions, principal=principal,
                                      subscription_id=subscription_id)
    return Response(status_code=204)


@router.post("/{subscription_id}/rotate-secret", response_model=SecretRotated)
async def rotate_secret(subscription_id: UUID, principal: Person, sessions: Sessions,
                        body: RotateSecret | None = None) -> Any:
    """New signing secret (shown once); the old one keeps signing during the overlap."""
    overlap = timedelta(seconds=(body or RotateSecret()).overlap_seconds)
    return await service.rotate_secret(sessions, principal=principal,
                                       subscription_id=subscription_id, overlap=overlap)


@router.post("/{subscription_id}/test", status_code=202, response_model=DeliveryPublic)
async def send_test(subscription_id: UUID, principal: Person, sessions: Sessions,
                    wake: WakeDeliveries) -> Any:
    """Queue a signed test event; follow it at ``GET /v1/deliveries/{id}``."""
    delivery = await service.send_test_event(sessions, principal=principal,
                                             subscription_id=subscription_id)
    wake([delivery.id])
    return DeliveryPublic.model_validate(delivery, from_attributes=True)
