from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from sqlmodel import col, select

from shared.http.pagination import (
    MAX_PAGE_SIZE,
    TimeCursor,
)
from shared.http.params import NO_NUL
from shared.pagination import TimeKeyset

from .. import service
from ..domain import DeliveryStatus
from ..models import Delivery, Subscription
from ..schemas import DeliveryPage, DeliveryPublic
from . import Person, Sessions, WakeDeliveries

router = APIRouter(prefix="/v1/deliveries", tags=["deliveries"])


_NEWEST_FIRST = TimeKeyset(col(Delivery.created_at), col(Delivery.id))


@router.get("", response_model=DeliveryPage)
async def list_deliveries(principal: Person, sessions: Sessions,
                          status: DeliveryStatus | None = None,
                          subscription_id: UUID | None = None,
                          event_type: Annotated[str | None,
                                                Query(max_length=255, pattern=NO_NUL)] = None,
                          cursor: TimeCursor = None,
                          limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50) -> Any:
    """Newest first. Yours only, unless you are a manager."""
    query = (select(Delivery).join(Subscription,
                                   col(Subscription.id) == col(Delivery.subscription_id)))
    if not service.may_act_for_others(principal):
        query = query.where(col(Subscription.owner) == principal.subject)
    if status is not None:
        query = query.where(col(Delivery.status) == status.value)
    if subscription_id is not None:
        query = query.where(col(Delivery.subscription_id) == subscription_id)
    if event_type is not None:
        query = query.where(col(Delivery.event_type) == event_type)
    async with sessions() as session:
        rows = (await session.exec(_NEWEST_FIRST.select(query, cursor, limit))).all()
    page, next_cursor = _NEWEST_FIRST.page(rows, limit)
    items = [DeliveryPublic.model_validate(d, from_attributes=True) for d in page]
    return DeliveryPage(items=items, next_cursor=next_cursor)


@router.get("/{delivery_id}", response_model=DeliveryPublic)
async def get_delivery(delivery_id: UUID, principal: Person, sessions: Sessions) -> Any:
    async with sessions() as session:
        delivery = await service.load_visible_delivery(session, delivery_id, principal)
    return DeliveryPublic.model_validate(delivery, from_attributes=True)


@router.post("/{delivery_id}/retry", status_code=202, response_model=DeliveryPublic)
async def retry_delivery(delivery_id: UUID, principal: Person, sessions: Sessions,
                         wake: WakeDeliveries) -> Any:
    """Replay a dead-lettered delivery (same webhook-id), from a fresh retry schedule."""
    delivery = await service.retry_delivery(sessions, principal=principal,
                                            delivery_id=delivery_id)
    wake([delivery.id])
    return DeliveryPublic.model_validate(delivery, from_attributes=True)
