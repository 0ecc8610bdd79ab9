"""Subscriptions: create, list, read, change, delete, rotate the secret, test-send."""

from datetime import timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse

from shared.http.concurrency import IdempotencyKey
from shared.http.pagination import MAX_PAGE_SIZE, TimeCursor
from shared.idempotency import Claim, run_once
from shared.inputs import NO_NUL

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
from ..service import deliveries, queries
from ..service import subscriptions as use_cases
from .deps import Person, SessionsDep, SettingsDep

router = APIRouter(prefix="/v1/subscriptions", tags=["subscriptions"])


@router.post("", status_code=201, response_model=SubscriptionCreated)
async def create_subscription(body: SubscriptionCreate, principal: Person, sessions: SessionsDep,
                              settings: SettingsDep,
                              idempotency_key: IdempotencyKey = None) -> Any:
    """Create a subscription. A webhook's signing secret is in this response only."""
    async def create(ticket: Claim | None) -> JSONResponse:
        created = await use_cases.create_subscription(
            sessions, principal=principal, request=body, settings=settings, claim=ticket)
        return JSONResponse(created.model_dump(mode="json"), status_code=201)

    return await run_once(sessions, subject=principal.subject, key=idempotency_key,
                          payload=body.model_dump(mode="json"), use_case=create)


@router.get("", response_model=SubscriptionPage)
async def list_subscriptions(principal: Person, sessions: SessionsDep,
                             owner: Annotated[str | None,
                                              Query(max_length=255, pattern=NO_NUL)] = None,
                             cursor: TimeCursor = None,
                             limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50) -> Any:
    """Your subscriptions; managers see everyone's (``owner`` filters)."""
    return await queries.list_subscriptions(sessions, principal=principal, owner=owner,
                                            cursor=cursor, limit=limit)


@router.get("/{subscription_id}", response_model=SubscriptionPublic)
async def get_subscription(subscription_id: UUID, principal: Person,
                           sessions: SessionsDep) -> Any:
    return await use_cases.get_subscription(sessions, principal=principal,
                                            subscription_id=subscription_id)


@router.patch("/{subscription_id}", response_model=SubscriptionPublic)
async def update_subscription(subscription_id: UUID, body: SubscriptionUpdate,
                              principal: Person, sessions: SessionsDep,
                              settings: SettingsDep) -> Any:
    """Change target, filter, mode or active; re-activating clears a 410 disable."""
    return await use_cases.update_subscription(sessions, principal=principal,
                                               subscription_id=subscription_id, request=body,
                                               settings=settings)


@router.delete("/{subscription_id}", status_code=204)
async def delete_subscription(subscription_id: UUID, principal: Person,
                              sessions: SessionsDep) -> Response:
    await use_cases.delete_subscription(sessions, principal=principal,
                                        subscription_id=subscription_id)
    return Response(status_code=204)


@router.post("/{subscription_id}/rotate-secret", response_model=SecretRotated)
async def rotate_secret(subscription_id: UUID, principal: Person, sessions: SessionsDep,
                        body: RotateSecret | None = None) -> Any:
    """New signing secret (shown once); the old one keeps signing during the overlap."""
    overlap = timedelta(seconds=(body or RotateSecret()).overlap_seconds)
    return await use_cases.rotate_secret(sessions, principal=principal,
                                         subscription_id=subscription_id, overlap=overlap)


@router.post("/{subscription_id}/test", status_code=202, response_model=DeliveryPublic)
async def send_test(subscription_id: UUID, principal: Person, sessions: SessionsDep) -> Any:
    """Queue a signed test event; follow it at ``GET /v1/deliveries/{id}``."""
    return await deliveries.send_test_event(sessions, principal=principal,
                                            subscription_id=subscription_id)
