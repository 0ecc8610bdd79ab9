from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse

from shared import idempotency
from shared.events.base import Severity
from shared.http.concurrency import IdempotencyKey, IfMatch, OptionalIfMatch
from shared.http.pagination import MAX_PAGE_SIZE
from shared.inputs import NO_NUL, QueryTime
from shared.text import SOME_VISIBLE
from shared.versions import etag

from ..domain import CapaLink, NonconformityStatus, Source
from ..schemas import (
    CloseRequest,
    CorrectionRequest,
    HistoryEntry,
    NonconformityCreate,
    NonconformityPage,
    NonconformityPublic,
    NonconformityUpdate,
    ReopenRequest,
    TriageRequest,
)
from ..service import lifecycle, queries, reporting
from ..service.inbox_order import INBOX_CURSOR_PATTERN, InboxSort
from .deps import Editor, Manager, PolicyDep, Reader, Reporter, SessionsDep

# The time cursor of shared.http.pagination, optionally led by a severity rank
# (service/inbox_order.py): every cursor it admits is a position in every order.
InboxCursor = Annotated[str | None, Query(
    pattern=INBOX_CURSOR_PATTERN,
    description="The next_cursor of the previous page, as given; leave it out for the "
                "first page.")]

router = APIRouter(prefix="/v1/nonconformities", tags=["nonconformities"])


def _with_etag(nc: NonconformityPublic, response: Response) -> NonconformityPublic:
    response.headers["ETag"] = etag(nc.version)
    return nc


@router.post("", status_code=201, response_model=NonconformityPublic,
             responses={200: {"model": NonconformityPublic,
                              "description": "Already reported (same source and external_ref)"}})
async def report(body: NonconformityCreate, principal: Reporter, sessions: SessionsDep,
                 policy: PolicyDep, idempotency_key: IdempotencyKey = None) -> JSONResponse:
    async def run(claim: idempotency.Claim | None) -> JSONResponse:
        result = await reporting.report_nonconformity(
            sessions=sessions, policy=policy, request=body, reported_by=principal.subject,
            claim=claim)
        nc = result.nonconformity
        return JSONResponse(nc.model_dump(mode="json"), status_code=201 if result.created else 200,
                            headers={"Location": f"/v1/nonconformities/{nc.id}",
                                     "ETag": etag(nc.version)})

    return await idempotency.run_once(sessions, subject=principal.subject, key=idempotency_key,
                                      payload=body.model_dump(mode="json"), use_case=run)


@router.get("", response_model=NonconformityPage)
async def list_nonconformities(
        principal: Reader, sessions: SessionsDep,
        status: NonconformityStatus | None = None, severity: Severity | None = None,
        source: Source | None = None,
        category: Annotated[str | None, Query(max_length=100, pattern=NO_NUL)] = None,
        tag: Annotated[str | None, Query(max_length=100, pattern=NO_NUL)] = None,
        since: QueryTime | None = None, until: QueryTime | None = None,
        text: Annotated[str | None, Query(
            max_length=200, pattern=NO_NUL,
            description="In the title, description, number or ticket reference")] = None,
        owner: Annotated[str | None, Query(max_length=255, pattern=SOME_VISIBLE,
                                           description="Owned by (any case)")] = None,
        assigned: Annotated[bool | None, Query(
            description="true: has an owner; false: nobody owns it")] = None,
        mine: Annotated[bool | None, Query(
            description="true: owned by the caller (the key's subject); false: not")] = None,
        external_ref: Annotated[str | None, Query(
            max_length=200, pattern=SOME_VISIBLE,
            description="The ticket reference exactly, e.g. ZD-9999")] = None,
        capa: Annotated[CapaLink | None, Query(
            description="Where it stands with its CAPA: none (not escalated), requested, "
                        "open or closed")] = None,
        sort: Annotated[InboxSort, Query(
            description="Order of the list; '-' first is descending")] = InboxSort.newest,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
        cursor: InboxCursor = None) -> NonconformityPage:
    where = queries.NonconformityFilter(status=status, severity=severity, source=source,
                                        category=category, tag=tag, since=since,
                                        until=until, text=text, owner=owner,
                                        assigned=assigned, mine=mine,
                                        mine_of=principal.subject, external_ref=external_ref,
                                        capa=capa)
    return await queries.list_nonconformities(sessions=sessions, where=where, limit=limit,
                                              cursor=cursor, sort=sort)


@router.get("/{nc_id}", response_model=NonconformityPublic)
async def get(nc_id: UUID, _: Reader, sessions: SessionsDep,
              response: Response) -> NonconformityPublic:
    return _with_etag(await queries.get_nonconformity(sessions=sessions, nc_id=nc_id), response)


@router.get("/{nc_id}/history", response_model=list[HistoryEntry])
async def history(nc_id: UUID, _: Reader, sessions: SessionsDep) -> list[HistoryEntry]:
    return await queries.history(sessions=sessions, nc_id=nc_id)


@router.patch("/{nc_id}", response_model=NonconformityPublic)
async def update(nc_id: UUID, body: NonconformityUpdate, principal: Editor,
                 sessions: SessionsDep, policy: PolicyDep, response: Response,
                 if_match: IfMatch) -> NonconformityPublic:
    nc = await lifecycle.update_nonconformity(sessions=sessions, policy=policy, nc_id=nc_id,
                                              if_match=if_match, changes=body,
                                              actor=principal.subject)
    return _with_etag(nc, response)


@router.post("/{nc_id}/triage", response_model=NonconformityPublic)
async def triage(nc_id: UUID, body: TriageRequest, principal: Editor, sessions: SessionsDep,
                 response: Response, if_match: IfMatch) -> NonconformityPublic:
    nc = await lifecycle.triage(sessions=sessions, nc_id=nc_id, request=body, if_match=if_match,
                                actor=principal.subject)
    return _with_etag(nc, response)


@router.post("/{nc_id}/correction", response_model=NonconformityPublic)
async def record_correction(nc_id: UUID, body: CorrectionRequest, principal: Editor,
                            sessions: SessionsDep, response: Response,
                            if_match: OptionalIfMatch = None) -> NonconformityPublic:
    nc = await lifecycle.record_correction(sessions=sessions, nc_id=nc_id,
                                           correction=body.correction, actor=principal.subject,
                                           if_match=if_match)
    return _with_etag(nc, response)


@router.post("/{nc_id}/close", response_model=NonconformityPublic)
async def close(nc_id: UUID, body: CloseRequest, principal: Editor, sessions: SessionsDep,
                response: Response, if_match: OptionalIfMatch = None) -> NonconformityPublic:
    nc = await lifecycle.close(sessions=sessions, nc_id=nc_id, resolution=body.resolution,
                               actor=principal.subject, if_match=if_match)
    return _with_etag(nc, response)


@router.post("/{nc_id}/reopen", response_model=NonconformityPublic)
async def reopen(nc_id: UUID, body: ReopenRequest, principal: Manager, sessions: SessionsDep,
                 response: Response, if_match: OptionalIfMatch = None) -> NonconformityPublic:
    nc = await lifecycle.reopen(sessions=sessions, nc_id=nc_id, reason=body.reason,
                                actor=principal.subject, if_match=if_match)
    return _with_etag(nc, response)
