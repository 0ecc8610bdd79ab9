"""Read side: CAPAs, the audit trail, lessons learned and management-review figures."""

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import and_
from sqlmodel import col, select
from sqlmodel.sql.expression import SelectOfScalar

from shared.db import SessionFactory
from shared.pagination import SequenceKeyset, TimeKeyset

from ..domain import CapaKind, CapaStatus, EffectivenessResult
from ..domain.audit_chain import ChainedEntry, ChainReport, verify_chain
from ..domain.audit_changes import field_changes
from ..domain.review import CapaSnapshot, Verification, summarize
from ..domain.workflow import OPEN_STATES
from ..list_schemas import (
    AuditEntryPublic,
    AuditPage,
    CapaPage,
    FieldChangePublic,
    LessonPage,
    LessonPublic,
)
from ..models import AuditEntry, Capa, CapaNonconformity, EffectivenessVerification
from ..models_lessons import Lesson
from ..schemas import CapaPublic
from .common import (
    AuditKey,
    audit_content,
    capa_view,
    linked_nonconformities,
    linked_nonconformities_of,
    load_capa,
)
from .lesson_links import suggestion_figures
from .signing import signatures_of
from .work import ActionFilter, Ownership, count, list_actions_due

# Every list newest first; the audit trail in the order it was written.
_CAPAS = TimeKeyset(col(Capa.opened_at), col(Capa.id))
_LESSONS = TimeKeyset(col(Lesson.published_at), col(Lesson.id))
_AUDIT = SequenceKeyset(col(AuditEntry.sequence))


async def get_capa(sessions: SessionFactory, *, capa_id: UUID, now: datetime) -> CapaPublic:
    async with sessions() as session:
        capa = await load_capa(session, capa_id)
        view = capa_view(capa, await linked_nonconformities(session, capa_id), now.date())
        view.signatures = await signatures_of(session, capa_id)
        return view


@dataclass(frozen=True)
class CapaFilter:
    status: list[CapaStatus] | None = None
    severity: str | None = None
    kind: CapaKind | None = None
    owner: str | None = None
    source: str | None = None
    nonconformity_id: UUID | None = None
    overdue: bool | None = None
    opened_since: datetime | None = None
    opened_until: datetime | None = None
    # Closed in [since, until) and closed still (a reopened CAPA is not), as the
    # management review counts "closed in the period".
    closed_since: datetime | None = None
    closed_until: datetime | None = None
    cause_category: str | None = None
    # The work queue's: anyone's / nobody's, the caller's own / not, due before a day.
    assigned: bool | None = None
    mine: bool | None = None
    subject: str | None = None
    due_before: date | None = None
    number: str | None = None  # as stored (upper case): forms name a CAPA by it


async def list_capas(sessions: SessionFactory, *, filters: CapaFilter, limit: int,
                     cursor: str | None, now: datetime) -> CapaPage:
    query = select(Capa)
    if filters.status:
        query = query.where(col(Capa.status).in_(filters.status))
    # The filters that are one column equal to the value given.
    for column, value in ((Capa.severity, filters.severity), (Capa.kind, filters.kind),
                          (Capa.source, filters.source), (Capa.number, filters.number),
                          (Capa.cause_category, filters.cause_category)):
        if value:
            query = query.where(col(column) == value)
    query = Ownership(owner=filters.owner, assigned=filters.assigned, mine=filters.mine,
                      subject=filters.subject).where(query, col(Capa.owner))
    if filters.due_before:
        query = query.where(col(Capa.due_date) < filters.due_before)
    if filters.nonconformity_id:
        linked = select(CapaNonconformity.capa_id).where(
            col(CapaNonconformity.nonconformity_id) == filters.nonconformity_id)
        query = query.where(col(Capa.id).in_(linked))
    if filters.overdue is not None:
        late = and_(col(Capa.status).in_(list(OPEN_STATES)), col(Capa.due_date) < now.date())
        query = query.where(late if filters.overdue else ~late)
    query = _in_periods(query, filters)
    async with sessions() as session:
        page, next_cursor = await _CAPAS.fetch(session, query, cursor, limit)
        links = await linked_nonconformities_of(session, [c.id for c in page])
        items = [capa_view(c, links[c.id], now.date()) for c in page]
        total = await count(session, query)
    return CapaPage(items=items, next_cursor=next_cursor, total=total)


def _in_periods(query: SelectOfScalar[Capa], filters: CapaFilter) -> SelectOfScalar[Capa]:
    """Opened and closed within the review's periods ([since, until))."""
    if filters.opened_since:
        query = query.where(col(Capa.opened_at) >= filters.opened_since)
    if filters.opened_until:
        query = query.where(col(Capa.opened_at) < filters.opened_until)
    if filters.closed_since or filters.closed_until:
        query = query.where(col(Capa.status) == CapaStatus.closed)
    if filters.closed_since:
        query = query.where(col(Capa.closed_at) >= filters.closed_since)
    if filters.closed_until:
        query = query.where(col(Capa.closed_at) < filters.closed_until)
    return query


async def audit_trail(sessions: SessionFactory, *, capa_id: UUID, limit: int,
                      cursor: str | None) -> AuditPage:
    async with sessions() as session:
        await load_capa(session, capa_id)
        page, next_cursor = await _AUDIT.fetch(
            session, select(AuditEntry).where(col(AuditEntry.capa_id) == capa_id), cursor, limit)
    items = [AuditEntryPublic(sequence=e.sequence, at=e.at, actor=e.actor, action=e.action,
                              before=e.before, after=e.after, reason=e.reason,
                              previous_hash=e.previous_hash, hash=e.hash,
                              changes=[FieldChangePublic(field=c.field, old=c.old, new=c.new)
                                       for c in field_changes(e.action, e.before, e.after)])
             for e in page]
    return AuditPage(items=items, next_cursor=next_cursor)


async def verify_audit_trail(sessions: SessionFactory, *, capa_id: UUID) -> ChainReport:
    async with sessions() as session:
        capa = await load_capa(session, capa_id)
        rows = (await session.exec(select(AuditEntry).where(col(AuditEntry.capa_id) == capa_id)
                                   .order_by(col(AuditEntry.sequence)))).all()
        return verify_chain((ChainedEntry(sequence=e.sequence, content=audit_content(e),
                                          previous_hash=e.previous_hash, hash=e.hash,
                                          scheme=e.scheme) for e in rows),
                            key=AuditKey.value, capa_id=str(capa_id), head=capa.audit_head)


def _lesson_view(row: Lesson) -> LessonPublic:
    return LessonPublic(id=row.id, capa_id=row.capa_id, capa_number=row.capa_number,
                        title=row.title, problem=row.problem, root_cause=row.root_cause,
                        cause_category=row.cause_category, actions=row.actions,
                        what_to_do_differently=row.what_to_do_differently, tags=row.tags,
                        published_at=row.published_at)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def list_lessons(sessions: SessionFactory, *, text: str | None, tag: str | None,
                       category: str | None, limit: int, cursor: str | None,
                       capa_id: UUID | None = None) -> LessonPage:
    query = select(Lesson)
    if capa_id:
        query = query.where(col(Lesson.capa_id) == capa_id)
    if text:
        for word in text.lower().split():
            query = query.where(col(Lesson.search_text).like(f"%{_escape_like(word)}%",
                                                             escape="\\"))
    if tag:
        query = query.where(col(Lesson.tag_index).like(
            f"%|{_escape_like(tag.strip().lower())}|%", escape="\\"))
    if category:
        query = query.where(col(Lesson.cause_category) == category)
    async with sessions() as session:
        page, next_cursor = await _LESSONS.fetch(session, query, cursor, limit)
    return LessonPage(items=[_lesson_view(r) for r in page], next_cursor=next_cursor)


async def management_review(sessions: SessionFactory, *, since: datetime, until: datetime,
                            now: datetime) -> dict[str, Any]:
    """Figures for ISO 9001 9.3 over every CAPA (a few thousand a year at most)."""
    async with sessions() as session:
        capas = (await session.exec(select(Capa))).all()
        checks = (await session.exec(select(
            EffectivenessVerification.result, EffectivenessVerification.verified_at)
            .where(col(EffectivenessVerification.verified_at) >= since,
                   col(EffectivenessVerification.verified_at) < until))).all()
        # Past lessons offered as similar while analysing, and how many were linked.
        suggestions = await suggestion_figures(session, since=since, until=until)
    figures = summarize(
        [CapaSnapshot(status=CapaStatus(c.status), opened_at=c.opened_at,
                      closed_at=c.closed_at, due_date=c.due_date, reopen_count=c.reopen_count,
                      source=c.source, cause_category=c.cause_category) for c in capas],
        [Verification(result=EffectivenessResult(r), verified_at=v) for r, v in checks],
        since=since, until=until, now=now)
    return {"since": since, "until": until, "as_of": now, **figures,
            "overdue_actions": await _overdue_actions(sessions, now),
            "lesson_suggestions": suggestions}


async def _overdue_actions(sessions: SessionFactory, now: datetime) -> dict[str, Any]:
    """Overdue actions as of now: the first page of ``GET /v1/actions?overdue=true``
    (soonest due first, so its first item is the longest overdue), so the figure
    and the list it links to are one query."""
    page = await list_actions_due(sessions, filters=ActionFilter(overdue=True), limit=1,
                                  cursor=None, now=now)
    oldest = None
    if page.items:
        first = page.items[0]
        oldest = {"id": first.id, "capa_id": first.capa_id, "capa_number": first.capa_number,
                  "description": first.description, "owner": first.owner,
                  "due_date": first.due_date,
                  "days_overdue": (now.date() - first.due_date).days}
    return {"total": page.total, "oldest": oldest}
