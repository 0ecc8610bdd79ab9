"""Audit trail, lessons learned and management-review figures."""

from datetime import timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query

from shared.http.pagination import MAX_PAGE_SIZE, SequenceCursor, TimeCursor
from shared.inputs import NO_NUL, QueryTime
from shared.periods import forward_period
from shared.vocabulary import CauseCategory

from ..list_schemas import AuditPage, AuditVerification, LessonPage
from ..service.queries import audit_trail, list_lessons, management_review, verify_audit_trail
from .capas import as_utc
from .deps import NowDep, Reader, SessionsDep

router = APIRouter(tags=["records"])


@router.get("/v1/capas/{capa_id}/audit-trail", response_model=AuditPage,
            summary="Every change, oldest first, each hashed with its predecessor")
async def trail(capa_id: UUID, sessions: SessionsDep, _: Reader,
                limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 100,
                cursor: SequenceCursor = None) -> AuditPage:
    return await audit_trail(sessions, capa_id=capa_id, limit=limit, cursor=cursor)


@router.get("/v1/capas/{capa_id}/audit-trail/verify", response_model=AuditVerification,
            summary="Recompute the keyed hash chain and check its head; reports the first "
                    "broken entry")
async def verify(capa_id: UUID, sessions: SessionsDep, _: Reader) -> AuditVerification:
    report = await verify_audit_trail(sessions, capa_id=capa_id)
    return AuditVerification(valid=report.valid, entries=report.entries,
                             first_broken_sequence=report.first_broken_sequence,
                             problem=report.problem,
                             legacy_entries=report.legacy_entries,
                             head_checked=report.head_checked)


@router.get("/v1/lessons", response_model=LessonPage, tags=["lessons"],
            summary="Search lessons learned by text, tag and cause category")
async def lessons(sessions: SessionsDep, _: Reader,
                  text: Annotated[str | None, Query(max_length=200, pattern=NO_NUL)] = None,
                  tag: Annotated[str | None, Query(max_length=50, pattern=NO_NUL)] = None,
                  category: CauseCategory | None = None,
                  capa_id: Annotated[UUID | None, Query(description="Lessons of one CAPA")] = None,
                  limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
                  cursor: TimeCursor = None) -> LessonPage:
    return await list_lessons(sessions, text=text, tag=tag, category=category, limit=limit,
                              cursor=cursor, capa_id=capa_id)


async def _review(sessions: SessionsDep, _: Reader, now: NowDep,
                  since: QueryTime | None = None,
                  until: QueryTime | None = None) -> dict[str, Any]:
    # The period is [since, until) and must run forward: a backwards one would read
    # as zero flows. No schema can compare two parameters, so the refusal has its
    # own problem type (shared.periods), documented in docs/management-review.md.
    start, end = forward_period(as_utc(since), as_utc(until), now=now,
                                default_length=timedelta(days=365), field="query.since")
    return await management_review(sessions, since=start, until=end, now=now)


router.add_api_route("/v1/management-review", _review, methods=["GET"], tags=["reports"],
                     summary="ISO 9001 9.3 figures: open CAPAs by state and age, overdue, "
                             "median days to close, effectiveness and reopen rates, Paretos, "
                             "overdue actions (count and the longest overdue)")
router.add_api_route("/v1/reports/summary", _review, methods=["GET"], tags=["reports"],
                     summary="The management-review figures (same as /v1/management-review)")
