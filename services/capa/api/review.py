"""The management-review pack (JSON, CSV, PDF) and the review meetings (ISO 9001 9.3)."""

from datetime import timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response

from shared.auth import Principal
from shared.http.auth import require_roles
from shared.http.concurrency import IdempotencyKey
from shared.http.pagination import MAX_PAGE_SIZE, TimeCursor
from shared.idempotency import Claim, run_once
from shared.inputs import QueryTime
from shared.periods import forward_period

from ..domain.review_labels import period_text
from ..schemas_review import ReviewCreate, ReviewPage, ReviewPublic
from ..service.review_meetings import get_review, list_reviews, record_review
from ..service.review_pack import pack_as_csv, pack_as_pdf, review_pack
from .capas import as_utc
from .deps import NowDep, PolicyDep, Reader, SessionsDep, idempotency_payload

router = APIRouter(tags=["management review"])
Manager = Annotated[Principal, Depends(require_roles("manager"))]
# A quarter: the usual rhythm of management reviews.
DEFAULT_DAYS = 91


async def _pack(sessions: SessionsDep, _: Reader, now: NowDep,
                since: QueryTime | None = None,
                until: QueryTime | None = None) -> dict[str, Any]:
    # A backwards or empty period is refused (shared.periods): its pack would be
    # all zeros under a title naming real dates, and a meeting could cite it.
    start, end = forward_period(as_utc(since), as_utc(until), now=now,
                                default_length=timedelta(days=DEFAULT_DAYS),
                                field="query.since")
    return await review_pack(sessions, since=start, until=end, now=now)


Pack = Annotated[dict[str, Any], Depends(_pack)]


def _download(name: str, pack: dict[str, Any]) -> dict[str, str]:
    # The period's first and last included day, as the page and the file show it
    # (not the exclusive end: a pack to 2026-12-07 is no "...-2026-12-08" file).
    days = period_text(pack["period"]).replace(" to ", "_")
    return {"Content-Disposition": f'attachment; filename="management-review-{days}.{name}"',
            "X-Pack-SHA256": pack["sha256"]}


@router.get("/v1/management-review/pack",
            summary="The review pack: figures beside the previous period's, objectives, open "
                    "and overdue CAPAs and actions, the period's lessons; with its SHA-256")
async def pack_json(pack: Pack) -> JSONResponse:
    return JSONResponse(pack, headers={"X-Pack-SHA256": pack["sha256"]})


@router.get("/v1/management-review/pack.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}}},
            summary="The review pack as CSV: a block per section")
async def pack_csv(pack: Pack) -> Response:
    return Response(pack_as_csv(pack), media_type="text/csv; charset=utf-8",
                    headers=_download("csv", pack))


@router.get("/v1/management-review/pack.pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}}},
            summary="The review pack as PDF: a table per section")
async def pack_pdf(pack: Pack) -> Response:
    return Response(await pack_as_pdf(pack), media_type="application/pdf",
                    headers=_download("pdf", pack))


@router.post("/v1/management-reviews", status_code=201, response_model=ReviewPublic,
             summary="Record a review meeting: attendees, the pack it used, decisions (each "
                     "may open a CAPA or add an action)")
async def record(body: ReviewCreate, sessions: SessionsDep, principal: Manager,
                 policy: PolicyDep, now: NowDep,
                 idempotency_key: IdempotencyKey = None) -> JSONResponse:
    async def run(claim: Claim | None) -> JSONResponse:
        view = await record_review(sessions, request=body, principal=principal,
                                   policy=policy, now=now, claim=claim)
        return JSONResponse(view.model_dump(mode="json"), status_code=201,
                            headers={"Location": f"/v1/management-reviews/{view.id}"})

    return await run_once(sessions, subject=principal.subject, key=idempotency_key,
                          payload=idempotency_payload("/v1/management-reviews", body),
                          use_case=run)


@router.get("/v1/management-reviews", response_model=ReviewPage,
            summary="Recorded review meetings, newest first")
async def reviews(sessions: SessionsDep, _: Reader,
                  limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
                  cursor: TimeCursor = None) -> ReviewPage:
    return await list_reviews(sessions, limit=limit, cursor=cursor)


@router.get("/v1/management-reviews/{review_id}", response_model=ReviewPublic)
async def review(review_id: UUID, sessions: SessionsDep, _: Reader) -> ReviewPublic:
    return await get_review(sessions, review_id=review_id)
