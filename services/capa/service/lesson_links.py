"""Linking a past lesson to a CAPA, the CAPA's linked lessons, and how often the
lessons offered as similar were taken up (a management-review figure)."""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import and_, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.auth import Principal
from shared.db import SessionFactory, transaction
from shared.errors import Invalid, NotFound
from shared.events.lessons import CapaLessonLinked
from shared.outbox import record_event

from ..domain.similarity import link_rate
from ..models_lessons import Lesson, LessonLink, LessonSuggestion
from ..similar_schemas import LessonLinkPublic
from .common import event_fields, load_capa, record_change, require_open

SERVICE = "capa"


def _view(link: LessonLink, lesson: Lesson) -> LessonLinkPublic:
    return LessonLinkPublic(lesson_id=lesson.id, lesson_capa_id=lesson.capa_id,
                            lesson_capa_number=lesson.capa_number, title=lesson.title,
                            what_to_do_differently=lesson.what_to_do_differently,
                            linked_by=link.linked_by, linked_at=link.linked_at)


async def link_lesson(sessions: SessionFactory, *, capa_id: UUID, lesson_id: UUID,
                      principal: Principal, now: datetime) -> tuple[LessonLinkPublic, bool]:
    """Link the lesson to the CAPA; (the link, True) when this call made it. Linking
    it again answers the existing link and records nothing (no event, no entry)."""
    async with transaction(sessions) as session:
        # The CAPA's lock serializes two people linking the same lesson at once.
        capa = await load_capa(session, capa_id, for_update=True)
        lesson = await session.get(Lesson, lesson_id)
        if lesson is None:
            raise NotFound(f"There is no lesson learned with id {lesson_id}.")
        existing = (await session.exec(select(LessonLink).where(
            col(LessonLink.capa_id) == capa_id,
            col(LessonLink.lesson_id) == lesson_id))).first()
        if existing is not None:
            return _view(existing, lesson), False
        if lesson.capa_id == capa_id:
            raise Invalid(f"This is the lesson learned on {capa.number} itself.",
                          [("lesson_id", "A CAPA's own lesson cannot be linked to it.")])
        require_open(capa, "linking a lesson")
        link = LessonLink(capa_id=capa_id, lesson_id=lesson_id, linked_by=principal.subject,
                          linked_at=now)
        session.add(link)
        # The CAPA's ETag stays: a link changes none of the CAPA's own fields, and a
        # person editing the CAPA meanwhile should not get a 412 for it.
        await record_change(session, capa_id=capa_id, actor=principal.subject,
                            action="lesson_linked", at=now,
                            after={"lesson_id": str(lesson.id),
                                   "lesson_capa_number": lesson.capa_number,
                                   "title": lesson.title})
        record_event(session, service=SERVICE, data=CapaLessonLinked(
            **event_fields(capa), lesson_id=lesson.id, lesson_capa_id=lesson.capa_id,
            lesson_capa_number=lesson.capa_number, linked_by=principal.subject,
            linked_at=now))
        return _view(link, lesson), True


async def lesson_links(sessions: SessionFactory, *, capa_id: UUID) -> list[LessonLinkPublic]:
    async with sessions() as session:
        await load_capa(session, capa_id)
        rows = (await session.exec(
            select(LessonLink, Lesson).join(Lesson, col(Lesson.id) == col(LessonLink.lesson_id))
            .where(col(LessonLink.capa_id) == capa_id)
            .order_by(col(LessonLink.linked_at), col(LessonLink.id)))).all()
    return [_view(link, lesson) for link, lesson in rows]


async def suggestion_figures(session: AsyncSession, *, since: datetime,
                             until: datetime) -> dict[str, Any]:
    """Lessons first offered to a CAPA within [since, until) as similar, and how many
    of those someone linked to that CAPA (by now)."""
    in_period = and_(col(LessonSuggestion.offered_at) >= since,
                     col(LessonSuggestion.offered_at) < until)
    offered, capas = (await session.exec(select(
        func.count(), func.count(func.distinct(LessonSuggestion.capa_id)))
        .where(in_period))).one()
    linked = (await session.exec(select(func.count()).select_from(LessonSuggestion).join(
        LessonLink, and_(col(LessonLink.capa_id) == col(LessonSuggestion.capa_id),
                         col(LessonLink.lesson_id) == col(LessonSuggestion.lesson_id)))
        .where(in_period))).one()
    return {"offered": offered, "linked": linked, "capas_offered": capas,
            "link_rate": link_rate(offered, linked)}
