"""Deliveries: list and read them, replay a dead letter."""

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query

from shared.http.pagination import MAX_PAGE_SIZE, TimeCursor
from shared.inputs import NO_NUL

from ..domain import DeliveryStatus
from ..schemas import DeliveryPage, DeliveryPublic
from ..service import deliveries as use_cases
from ..service import queries
from .deps import Person, SessionsDep

router = APIRouter(prefix="/v1/deliveries", tags=["deliveries"])


@router.get("", response_model=DeliveryPage)
async def list_deliveries(principal: Person, sessions: SessionsDep,
                          status: DeliveryStatus | None = None,
                          subscription_id: UUID | None = None,
                          event_type: Annotated[str | None,
                                                Query(max_length=255, pattern=NO_NUL)] = None,
                          cursor: TimeCursor = None,
                          limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50) -> Any:
    """Newest first. Yours only, unless you are a manager."""
    return await queries.list_deliveries(sessions, principal=principal, status=status,
                                         subscription_id=subscription_id,
                                         event_type=event_type, cursor=cursor, limit=limit)


@router.get("/{delivery_id}", response_model=DeliveryPublic)
async def get_delivery(delivery_id: UUID, principal: Person, sessions: SessionsDep) -> Any:
    return await use_cases.get_delivery(sessions, principal=principal, delivery_id=delivery_id)


@router.post("/{delivery_id}/retry", status_code=202, response_model=DeliveryPublic)
async def retry_delivery(delivery_id: UUID, principal: Person, sessions: SessionsDep) -> Any:
    """Replay a dead-lettered delivery (same webhook-id), from a fresh retry schedule."""
    return await use_cases.retry_delivery(sessions, principal=principal,
                                          delivery_id=delivery_id)
