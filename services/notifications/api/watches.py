"""Watches: the caller watching one CAPA or nonconformity by e-mail (service.watches)."""

from enum import StrEnum
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from ..domain.watches import Record, Watch
from ..schemas import SubscriptionPublic, WatchRequest
from ..service import watches as use_cases
from .deps import Person, SessionsDep, SettingsDep

router = APIRouter(prefix="/v1/watches", tags=["watches"])


class RecordPath(StrEnum):
    """The path word of each record, as the CAPA and NC APIs and the UI name them."""

    capas = "capas"
    nonconformities = "nonconformities"


_RECORDS = {RecordPath.capas: Record.capa, RecordPath.nonconformities: Record.nonconformity}


def _watch(record: RecordPath, record_id: UUID) -> Watch:
    return Watch(_RECORDS[record], record_id)


@router.put("/{record}/{record_id}", response_model=SubscriptionPublic,
            responses={201: {"model": SubscriptionPublic, "description": "Now watching."},
                       409: {"description": "Your sign-in carries no e-mail address "
                             f"(type {use_cases.NO_EMAIL})."}})
async def watch(record: RecordPath, record_id: UUID, principal: Person, sessions: SessionsDep,
                settings: SettingsDep, body: WatchRequest | None = None) -> Any:
    """Watch it: every event of the record, e-mailed to the address of your own sign-in.

    201 the first time, 200 after (one watch per person and record)."""
    sub, created = await use_cases.watch(sessions, principal=principal,
                                         watch=_watch(record, record_id),
                                         request=body or WatchRequest(), settings=settings)
    return JSONResponse(sub.model_dump(mode="json"), status_code=201 if created else 200)


@router.get("/{record}/{record_id}", response_model=SubscriptionPublic)
async def get_watch(record: RecordPath, record_id: UUID, principal: Person,
                    sessions: SessionsDep) -> Any:
    """Your watch of the record; 404 when you do not watch it."""
    return await use_cases.get_watch(sessions, principal=principal,
                                     watch=_watch(record, record_id))


@router.delete("/{record}/{record_id}", status_code=204)
async def unwatch(record: RecordPath, record_id: UUID, principal: Person,
                  sessions: SessionsDep) -> Response:
    """Stop watching (204 also when you were not watching: the outcome is the same)."""
    await use_cases.unwatch(sessions, principal=principal, watch=_watch(record, record_id))
    return Response(status_code=204)
