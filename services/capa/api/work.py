"""Actions across every CAPA: a person's work queue ("my work", issue 16)."""

from typing import Annotated

from fastapi import APIRouter, Query

from shared.http.pagination import MAX_PAGE_SIZE, TimeCursor
from shared.inputs import IsoDate
from shared.text import IDENTITY_MAX_CHARS, IDENTITY_PATTERN

from ..list_schemas import ActionPage
from ..service.work import ActionFilter, Ownership, list_actions_due
from .deps import NowDep, Reader, SessionsDep

router = APIRouter(prefix="/v1/actions", tags=["actions and effectiveness"])


@router.get("", response_model=ActionPage,
            summary="Actions of every CAPA, soonest due first (a work queue)")
async def actions_due(sessions: SessionsDep, principal: Reader, now: NowDep,
                      owner: Annotated[str | None, Query(max_length=IDENTITY_MAX_CHARS,
                                                         pattern=IDENTITY_PATTERN)] = None,
                      mine: Annotated[bool | None, Query(
                          description="true: owned by the caller (the key's subject); "
                                      "false: not")] = None,
                      open: Annotated[bool | None, Query(
                          description="true: neither done nor cancelled, on a CAPA still "
                                      "open")] = None,
                      due_before: Annotated[IsoDate | None, Query(
                          description="Due before this day (YYYY-MM-DD)")] = None,
                      overdue: bool | None = None,
                      limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
                      cursor: TimeCursor = None) -> ActionPage:
    filters = ActionFilter(who=Ownership(owner=owner, mine=mine, subject=principal.subject),
                           open=open, due_before=due_before, overdue=overdue)
    return await list_actions_due(sessions, filters=filters, limit=limit, cursor=cursor,
                                  now=now)
