"""Similar past lessons and root causes, ranked by full-text relevance.

PostgreSQL ranks with ``ts_rank`` over the generated ``search_vector`` columns
(GIN-indexed); SQLite with FTS5's ``bm25`` over ``capa_similar_fts``, which
triggers keep in step (migration 0008). Both search the words of
``domain.similarity.search_terms``, ORed, so the item sharing the most (and the
rarest, on SQLite) words ranks first.

A lesson stands for its whole CAPA (it carries the root cause too), so a CAPA's
root cause is offered only while it has no lesson; a CAPA is never offered to
itself. With a CAPA and ``record_offers`` (the caller may link, and the UI shows
the panel) the lessons offered are noted once per (CAPA, lesson): with the links
they give the management review's take-up figure.
"""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Uuid, bindparam, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import SessionFactory, transaction

from ..domain.similarity import (
    LANGUAGE,
    analysis_text,
    fts5_query,
    search_terms,
    websearch_query,
)
from ..models import Capa, RootCauseAnalysis
from ..models_lessons import Lesson, LessonLink, LessonSuggestion
from ..similar_schemas import SimilarItem, SimilarPage
from .common import load_capa

_SQLITE = text("""
    SELECT kind, capa_id, -bm25(capa_similar_fts) AS score FROM capa_similar_fts
    WHERE capa_similar_fts MATCH :query AND capa_id IS NOT :exclude
      AND (kind = 'lesson' OR capa_id NOT IN (SELECT capa_id FROM capa_lessons))
    ORDER BY bm25(capa_similar_fts), capa_id LIMIT :limit
""").bindparams(bindparam("exclude", type_=Uuid()))

# LANGUAGE is a constant of this code, never input.
_POSTGRES = text(f"""
    WITH q AS (SELECT websearch_to_tsquery('{LANGUAGE}', :query) AS query)
    SELECT 'lesson' AS kind, l.capa_id, ts_rank(l.search_vector, q.query) AS score
      FROM capa_lessons l, q
     WHERE l.search_vector @@ q.query AND l.capa_id IS DISTINCT FROM :exclude
    UNION ALL
    SELECT 'root_cause', r.capa_id, ts_rank(r.search_vector, q.query)
      FROM capa_root_causes r, q
     WHERE r.status = 'submitted' AND r.search_vector @@ q.query
       AND r.capa_id IS DISTINCT FROM :exclude
       AND NOT EXISTS (SELECT 1 FROM capa_lessons l2 WHERE l2.capa_id = r.capa_id)
    ORDER BY score DESC, capa_id LIMIT :limit
""").bindparams(bindparam("exclude", type_=Uuid()))


async def _ranked(session: AsyncSession, terms: list[str], exclude: UUID | None,
                  limit: int) -> list[tuple[str, UUID, float]]:
    if session.get_bind().dialect.name == "postgresql":
        statement, query = _POSTGRES, websearch_query(terms)
    else:
        statement, query = _SQLITE, fts5_query(terms)
    connection = await session.connection()
    rows = (await connection.execute(statement, {"query": query, "exclude": exclude,
                                                 "limit": limit})).all()
    # SQLite hands the FTS table's capa_id back as the stored hex text.
    return [(kind, capa if isinstance(capa, UUID) else UUID(str(capa)), float(score))
            for kind, capa, score in rows]


async def _own_text(session: AsyncSession, capa_id: UUID) -> list[str]:
    capa = await load_capa(session, capa_id)
    analysis = await session.get(RootCauseAnalysis, capa_id)
    parts = [capa.title, capa.description or ""]
    if analysis is not None:
        parts = analysis_text(analysis.problem_statement, analysis.whys,
                              analysis.root_cause) + parts
    return parts


async def similar_lessons(sessions: SessionFactory, *, text: str | None,
                          capa_id: UUID | None, limit: int, now: datetime,
                          record_offers: bool = False) -> SimilarPage:
    """The ``limit`` most similar past lessons and root causes to ``text`` and/or the
    CAPA's own problem statement, whys, root cause and title."""
    # Nothing to compare with (no text, no CAPA) finds nothing, like a text of only
    # stop words: a rule tying two optional parameters is one no schema can state.
    async with sessions() as session:
        parts = [text] if text else []
        if capa_id is not None:
            parts += await _own_text(session, capa_id)
        terms = search_terms(parts)
        if not terms:
            return SimilarPage(items=[], terms=[])
        hits = await _ranked(session, terms, capa_id, limit)
        items = await _details(session, hits)
        new_offers: list[UUID] = []
        if capa_id is not None:
            linked = set((await session.exec(select(LessonLink.lesson_id).where(
                col(LessonLink.capa_id) == capa_id))).all())
            offered = set((await session.exec(select(LessonSuggestion.lesson_id).where(
                col(LessonSuggestion.capa_id) == capa_id))).all())
            for item in items:
                item.linked = item.lesson_id in linked
            # Only lessons not offered before: a page shown again writes nothing.
            new_offers = [i.lesson_id for i in items
                          if i.lesson_id is not None and i.lesson_id not in offered]
    if capa_id is not None and record_offers:
        await _note_offers(sessions, capa_id, new_offers, now)
    return SimilarPage(items=items, terms=terms)


async def _details(session: AsyncSession,
                   hits: list[tuple[str, UUID, float]]) -> list[SimilarItem]:
    ids = [capa_id for _, capa_id, _ in hits]
    if not ids:
        return []
    capas = {c.id: c for c in (await session.exec(
        select(Capa).where(col(Capa.id).in_(ids)))).all()}
    lessons = {lesson.capa_id: lesson for lesson in (await session.exec(
        select(Lesson).where(col(Lesson.capa_id).in_(ids)))).all()}
    analyses = {a.capa_id: a for a in (await session.exec(
        select(RootCauseAnalysis).where(col(RootCauseAnalysis.capa_id).in_(ids)))).all()}
    items: list[SimilarItem] = []
    for kind, capa_id, score in hits:
        capa = capas.get(capa_id)
        if capa is None:  # a row whose CAPA is gone: nothing to show or link
            continue
        base: dict[str, Any] = {"score": round(score, 6), "capa_id": capa_id,
                                "capa_number": capa.number, "title": capa.title,
                                "capa_status": str(capa.status)}
        lesson = lessons.get(capa_id)
        if kind == "lesson" and lesson is not None:
            items.append(SimilarItem(
                kind="lesson", **base, problem=lesson.problem, root_cause=lesson.root_cause,
                cause_category=lesson.cause_category, lesson_id=lesson.id,
                what_to_do_differently=lesson.what_to_do_differently, tags=lesson.tags,
                published_at=lesson.published_at))
        elif kind == "root_cause" and (analysis := analyses.get(capa_id)) is not None:
            items.append(SimilarItem(
                kind="root_cause", **base, problem=analysis.problem_statement,
                root_cause=analysis.root_cause,
                cause_category=str(analysis.cause_category) if analysis.cause_category
                else None))
    return items


async def _note_offers(sessions: SessionFactory, capa_id: UUID, lesson_ids: list[UUID],
                       now: datetime) -> None:
    """Each (CAPA, lesson) pair the first time it is offered (insert-or-nothing: two
    people shown the same suggestion at once note it once)."""
    if not lesson_ids:
        return
    async with transaction(sessions) as session:
        insert = (postgresql.insert if session.get_bind().dialect.name == "postgresql"
                  else sqlite.insert)
        await session.exec(insert(LessonSuggestion).values(
            [{"capa_id": capa_id, "lesson_id": lesson_id, "offered_at": now}
             for lesson_id in lesson_ids])
            .on_conflict_do_nothing(index_elements=["capa_id", "lesson_id"]))
