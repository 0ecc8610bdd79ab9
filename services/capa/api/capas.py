"""CAPAs: open, list, read, edit planning fields, move through the workflow."""

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from shared.events.base import Severity
from shared.http.concurrency import IdempotencyKey, IfMatch
from shared.http.pagination import MAX_PAGE_SIZE, TimeCursor
from shared.idempotency import Claim, run_once
from shared.inputs import NO_NUL, IsoDate, QueryTime
from shared.text import IDENTITY_MAX_CHARS, IDENTITY_PATTERN
from shared.vocabulary import CauseCategory

from ..domain import CapaKind, CapaStatus
from ..list_schemas import CapaPage
from ..schemas import (
    CapaCreate,
    CapaPublic,
    CapaUpdate,
    TransitionOption,
    TransitionRequest,
)
from ..service.opening import open_capa
from ..service.queries import CapaFilter, get_capa, list_capas
from ..service.workflow import transition_capa, transition_options, update_capa
from .deps import (
    Engineer,
    NowDep,
    PolicyDep,
    Reader,
    SessionsDep,
    SigningDep,
    WorkflowActor,
    idempotency_payload,
    with_etag,
)

router = APIRouter(prefix="/v1/capas", tags=["capas"])


def as_utc(moment: datetime | None) -> datetime | None:
    """Query times without an offset are taken as UTC."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@router.post("", status_code=201, response_model=CapaPublic,
             summary="Open a CAPA by hand (corrective, or preventive from a risk)")
async def create(body: CapaCreate, sessions: SessionsDep, policy: PolicyDep,
                 principal: Engineer, now: NowDep,
                 idempotency_key: IdempotencyKey = None) -> JSONResponse:
    async def run(claim: Claim | None) -> JSONResponse:
        view = await open_capa(sessions, request=body, principal=principal, policy=policy,
                               now=now, claim=claim)
        return with_etag(view, view.version, status_code=201, location=f"/v1/capas/{view.id}")

    return await run_once(sessions, subject=principal.subject, key=idempotency_key,
                          payload=idempotency_payload("/v1/capas", body), use_case=run)


@router.get("", response_model=CapaPage)
async def search(sessions: SessionsDep, principal: Reader, now: NowDep,
                 status: Annotated[list[CapaStatus] | None, Query()] = None,
                 severity: Severity | None = None, kind: CapaKind | None = None,
                 owner: Annotated[str | None, Query(max_length=IDENTITY_MAX_CHARS,
                                                    pattern=IDENTITY_PATTERN)] = None,
                 source: Annotated[str | None, Query(max_length=32, pattern=NO_NUL)] = None,
                 nonconformity_id: UUID | None = None, overdue: bool | None = None,
                 number: Annotated[str | None, Query(
                     max_length=32, pattern=r"^[A-Za-z0-9-]+$",
                     description="The readable number exactly (any case), e.g. "
                                 "CAPA-2026-00017")] = None,
                 opened_since: QueryTime | None = None, opened_until: QueryTime | None = None,
                 cause_category: Annotated[CauseCategory | None, Query(
                     description="Of a submitted root-cause analysis")] = None,
                 closed_since: Annotated[QueryTime | None, Query(
                     description="Closed (and closed still) at or after this time")] = None,
                 closed_until: Annotated[QueryTime | None, Query(
                     description="Closed (and closed still) before this time")] = None,
                 assigned: Annotated[bool | None, Query(
                     description="true: has an owner; false: nobody owns it")] = None,
                 mine: Annotated[bool | None, Query(
                     description="true: owned by the caller (the key's subject); "
                                 "false: not")] = None,
                 due_before: Annotated[IsoDate | None, Query(
                     description="Due before this day (YYYY-MM-DD)")] = None,
                 limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
                 cursor: TimeCursor = None) -> CapaPage:
    filters = CapaFilter(status=status, severity=severity, kind=kind, owner=owner,
                         source=source, nonconformity_id=nonconformity_id, overdue=overdue,
                         opened_since=as_utc(opened_since), opened_until=as_utc(opened_until),
                         closed_since=as_utc(closed_since), closed_until=as_utc(closed_until),
                         cause_category=cause_category,
                         assigned=assigned, mine=mine, subject=principal.subject,
                         due_before=due_before, number=number.upper() if number else None)
    return await list_capas(sessions, filters=filters, limit=limit, cursor=cursor, now=now)


@router.get("/{capa_id}", response_model=CapaPublic)
async def read(capa_id: UUID, sessions: SessionsDep, _: Reader, now: NowDep) -> JSONResponse:
    view = await get_capa(sessions, capa_id=capa_id, now=now)
    return with_etag(view, view.version)


@router.patch("/{capa_id}", response_model=CapaPublic,
              summary="Edit title, description, owner, likelihood or due date (If-Match)")
async def edit(capa_id: UUID, body: CapaUpdate, sessions: SessionsDep, principal: Engineer,
               now: NowDep, if_match: IfMatch) -> JSONResponse:
    view = await update_capa(sessions, capa_id=capa_id, request=body, if_match=if_match,
                             principal=principal, now=now)
    return with_etag(view, view.version)


@router.get("/{capa_id}/transitions", response_model=list[TransitionOption],
            summary="The moves possible now: roles, whether you may, what still blocks each")
async def options(capa_id: UUID, sessions: SessionsDep, principal: Reader
                  ) -> list[TransitionOption]:
    return await transition_options(sessions, capa_id=capa_id, principal=principal)


@router.post("/{capa_id}/transitions", response_model=CapaPublic,
             summary="Move the CAPA to another state; 409 names the allowed moves")
async def transition(capa_id: UUID, body: TransitionRequest, sessions: SessionsDep,
                     principal: WorkflowActor, now: NowDep, signing: SigningDep
                     ) -> JSONResponse:
    view = await transition_capa(sessions, capa_id=capa_id, request=body, principal=principal,
                                 now=now, signing=signing)
    return with_etag(view, view.version)
