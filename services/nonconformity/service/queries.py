"""Read side: one NC, its history, and filtered, cursor-paginated lists."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import Date, func, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import col, select
from sqlmodel.sql.expression import SelectOfScalar

from shared.db import SessionFactory
from shared.evidence.attach import evidence_view
from shared.evidence.store import attachments_of

from ..domain import NonconformityNotFound
from ..domain.weekly import bucket_by_week, week_starts
from ..models import Nonconformity, NonconformityHistory, NonconformityTag
from ..schemas import (
    HistoryEntry,
    NonconformitiesPerWeek,
    NonconformityPage,
    NonconformityPublic,
)
from .inbox_order import ORDERS, InboxSort


@dataclass(frozen=True)
class NonconformityFilter:
    status: str | None = None
    severity: str | None = None
    source: str | None = None
    category: str | None = None
    tag: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    text: str | None = None
    # Work-queue filters (issue 16): an owner, any owner / none, the caller's own.
    owner: str | None = None
    assigned: bool | None = None
    mine_of: str | None = None
    mine: bool | None = None
    external_ref: str | None = None
    # Where it stands with its CAPA: ``none`` is an NC nobody escalated yet.
    capa: str | None = None


async def get_nonconformity(*, sessions: SessionFactory, nc_id: UUID) -> NonconformityPublic:
    async with sessions() as session:
        nc = await session.get(Nonconformity, nc_id)
        if nc is None:
            raise NonconformityNotFound(nc_id)
        attachments = await attachments_of(session, parent_id=nc_id)
    public = NonconformityPublic.model_validate(nc)
    public.attachments = [evidence_view(a, evidence_path(nc_id, a.id)) for a in attachments]
    return public


def evidence_path(nc_id: UUID, attachment_id: UUID) -> str:
    return f"/v1/nonconformities/{nc_id}/evidence/{attachment_id}"


async def history(*, sessions: SessionFactory, nc_id: UUID) -> list[HistoryEntry]:
    async with sessions() as session:
        if await session.get(Nonconformity, nc_id) is None:
            raise NonconformityNotFound(nc_id)
        rows = (await session.exec(select(NonconformityHistory)
                                   .where(NonconformityHistory.nonconformity_id == nc_id)
                                   .order_by(col(NonconformityHistory.id)))).all()
    return [HistoryEntry.model_validate(r) for r in rows]


def _like(text: str) -> str:
    # % and _ are text to search for, not wildcards.
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _same_person(column: Any, who: str) -> Any:
    """NC owners are stored as typed: compared without regard to case."""
    return func.lower(column) == who.strip().casefold()


def filtered(where: NonconformityFilter) -> SelectOfScalar[Nonconformity]:
    """The NCs ``where`` selects, in no order (a keyset orders and pages them)."""
    query = select(Nonconformity)
    for name in ("status", "severity", "source"):
        value = getattr(where, name)
        if value is not None:
            query = query.where(getattr(Nonconformity, name) == value)
    if where.capa is not None:
        query = query.where(col(Nonconformity.capa_link) == where.capa)
    if where.category is not None:
        # As the escalation policy compares them: without regard to case.
        query = query.where(func.lower(Nonconformity.category) == where.category.lower())
    if where.tag:
        query = query.where(col(Nonconformity.id).in_(
            select(NonconformityTag.nonconformity_id).where(NonconformityTag.tag == where.tag)))
    if where.since:
        query = query.where(col(Nonconformity.created_at) >= where.since)
    if where.until:
        query = query.where(col(Nonconformity.created_at) < where.until)
    query = _work_queue(query, where)
    if where.text:
        needle = _like(where.text)
        query = query.where(or_(
            func.lower(Nonconformity.title).like(needle, escape="\\"),
            func.lower(func.coalesce(Nonconformity.description, "")).like(needle, escape="\\"),
            func.lower(Nonconformity.number).like(needle, escape="\\"),
            # A ticket reference (ZD-9999) finds its NC.
            func.lower(func.coalesce(Nonconformity.external_ref, "")).like(needle,
                                                                            escape="\\")))
    return query


def _work_queue(query: SelectOfScalar[Nonconformity],
                where: NonconformityFilter) -> SelectOfScalar[Nonconformity]:
    """Who owns it, and the ticket it came from."""
    owner = col(Nonconformity.owner)
    if where.owner is not None:
        query = query.where(_same_person(owner, where.owner))
    if where.assigned is not None:
        query = query.where(owner.is_not(None) if where.assigned else owner.is_(None))
    if where.mine is not None and where.mine_of is not None:
        own = _same_person(owner, where.mine_of)
        # Not mine: someone else's or nobody's (NULL compares as unknown).
        query = query.where(own if where.mine else or_(~own, owner.is_(None)))
    if where.external_ref is not None:
        query = query.where(col(Nonconformity.external_ref) == where.external_ref.strip())
    return query


async def list_nonconformities(*, sessions: SessionFactory, where: NonconformityFilter,
                               limit: int, cursor: str | None,
                               sort: InboxSort = InboxSort.newest) -> NonconformityPage:
    query = filtered(where)
    async with sessions() as session:
        page, next_cursor = await ORDERS[sort].fetch(session, query, cursor, limit)
        # Every page says how many match in all (the inbox shows it; a few thousand
        # open NCs at most are counted on an index).
        total = (await session.exec(select(func.count()).select_from(
            query.subquery()))).one()
    return NonconformityPage(items=[NonconformityPublic.model_validate(r) for r in page],
                             next_cursor=next_cursor, total=int(total))


class utc_day(FunctionElement[date]):
    """The UTC calendar day of a stored time stamp, on SQLite and PostgreSQL.

    PostgreSQL's own ``date()`` of a timestamptz uses the session's time zone,
    which is the server's choice; the report's weeks must be UTC weeks.
    """

    type = Date()
    name = "utc_day"
    inherit_cache = True


@compiles(utc_day)
def _utc_day_sqlite(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite keeps the UTC time stamps as ISO text: date() takes the day part.
    return f"date({compiler.process(element.clauses, **kw)})"


@compiles(utc_day, "postgresql")
def _utc_day_postgres(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    # The zone is written inline (not a bound parameter) so that the GROUP BY
    # expression is textually the one selected.
    return f"CAST(timezone('UTC', {compiler.process(element.clauses, **kw)}) AS DATE)"


async def nonconformities_per_week(*, sessions: SessionFactory, weeks: int,
                                   now: datetime) -> NonconformitiesPerWeek:
    """NCs reported (``created_at``) per UTC ISO week and source: the ``weeks`` weeks
    ending with the current one, oldest first, zero-filled."""
    mondays = week_starts(last_day=now.astimezone(UTC).date(), weeks=weeks)
    start = datetime.combine(mondays[0], time(), tzinfo=UTC)
    end = datetime.combine(mondays[-1] + timedelta(days=7), time(), tzinfo=UTC)
    day = utc_day(col(Nonconformity.created_at))
    query = (select(day, col(Nonconformity.source), func.count())
             .where(col(Nonconformity.created_at) >= start,
                    col(Nonconformity.created_at) < end)
             .group_by(day, col(Nonconformity.source)))
    async with sessions() as session:
        rows = (await session.exec(query)).all()
    # SQLite may hand the day back as text; PostgreSQL as a date.
    folded = bucket_by_week(((d if isinstance(d, date) else date.fromisoformat(str(d)), source,
                              int(count)) for d, source, count in rows), mondays)
    return NonconformitiesPerWeek.model_validate({
        "since": mondays[0].isoformat(), "until": (mondays[-1] + timedelta(days=7)).isoformat(),
        **folded})
