"""The root-cause analysis form of a CAPA."""

from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from shared.http.concurrency import IfMatch

from ..schemas import RootCauseInput, RootCausePublic, RootCauseSubmissionPublic
from ..service.root_cause import get_root_cause, record_root_cause, root_cause_submissions
from .deps import Engineer, NowDep, Reader, SessionsDep, with_etag

router = APIRouter(prefix="/v1/capas/{capa_id}/root-cause", tags=["root cause"])


@router.get("", response_model=RootCausePublic,
            summary="The form as it is now; version 0 until first saved")
async def read(capa_id: UUID, sessions: SessionsDep, _: Reader) -> JSONResponse:
    view = await get_root_cause(sessions, capa_id=capa_id)
    return with_etag(view, view.version)


@router.put("", response_model=RootCausePublic,
            summary="Save as draft or submit; If-Match with the ETag you read (\"0\" at first)")
async def save(capa_id: UUID, body: RootCauseInput, sessions: SessionsDep,
               principal: Engineer, now: NowDep, if_match: IfMatch) -> JSONResponse:
    view = await record_root_cause(sessions, capa_id=capa_id, form=body, if_match=if_match,
                                   principal=principal, now=now)
    return with_etag(view, view.version)


@router.get("/submissions", response_model=list[RootCauseSubmissionPublic],
            summary="Every submitted version, oldest first")
async def submissions(capa_id: UUID, sessions: SessionsDep,
                      _: Reader) -> list[RootCauseSubmissionPublic]:
    return await root_cause_submissions(sessions, capa_id=capa_id)
