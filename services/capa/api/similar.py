"""Similar past lessons and root causes, and lessons linked to a CAPA."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response

from shared.inputs import NO_NUL

from ..service.lesson_links import lesson_links, link_lesson
from ..service.similar import similar_lessons
from ..similar_schemas import LessonLinkInput, LessonLinkPublic, SimilarPage
from .deps import LINKERS, Engineer, NowDep, Reader, SessionsDep

router = APIRouter(tags=["lessons"])

# A problem statement with its whys fits many times over; a whole document does not
# belong in a query string (and only the first words are searched anyway).
MAX_TEXT = 4000


@router.get("/v1/lessons/similar", response_model=SimilarPage,
            summary="Past lessons and root causes most similar to a text or to a CAPA's own "
                    "analysis, ranked by full-text relevance",
            description="Words of the text (and, with capa_id, of the CAPA's problem "
                        "statement, whys, root cause and title) ranked with PostgreSQL "
                        "ts_rank or SQLite FTS5 bm25 (English stemming). Query syntax in the "
                        "text is searched as words. Nothing to compare with answers an empty "
                        "list. With capa_id and record=true, asked by an engineer or manager, the "
                        "lessons answered are noted as offered to that CAPA, once each: the "
                        "management review counts how many were linked.")
async def similar(sessions: SessionsDep, principal: Reader, now: NowDep,
                  text: Annotated[str | None, Query(max_length=MAX_TEXT, pattern=NO_NUL,
                                                    description="The problem in words")] = None,
                  capa_id: Annotated[UUID | None, Query(
                      description="Compare with this CAPA's problem statement, whys, root "
                                  "cause and title; the CAPA itself is never offered")] = None,
                  limit: Annotated[int, Query(ge=1, le=20)] = 5,
                  record: Annotated[bool, Query(
                      description="Note the lessons answered as offered to the CAPA (the UI "
                                  "showing its panel); only for engineers and managers")] = False,
                  ) -> SimilarPage:
    # The take-up figure counts offers made to those who could take them up: a
    # reporter's (or a script's) reads would only dilute it, and so could anyone's.
    offered = record and capa_id is not None and bool(principal.roles & set(LINKERS))
    return await similar_lessons(sessions, text=text, capa_id=capa_id, limit=limit, now=now,
                                 record_offers=offered)


@router.post("/v1/capas/{capa_id}/lesson-links", response_model=LessonLinkPublic,
             status_code=201,
             summary="Link a past lesson to this CAPA (again: 200 with the existing link)")
async def link(capa_id: UUID, body: LessonLinkInput, response: Response,
               sessions: SessionsDep, principal: Engineer, now: NowDep) -> LessonLinkPublic:
    view, created = await link_lesson(sessions, capa_id=capa_id, lesson_id=body.lesson_id,
                                      principal=principal, now=now)
    if not created:
        response.status_code = 200
    return view


@router.get("/v1/capas/{capa_id}/lesson-links", response_model=list[LessonLinkPublic],
            summary="The past lessons linked to this CAPA, oldest link first")
async def links(capa_id: UUID, sessions: SessionsDep, _: Reader) -> list[LessonLinkPublic]:
    return await lesson_links(sessions, capa_id=capa_id)
