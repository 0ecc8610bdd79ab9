"""The work-queue reads of the CAPA service (issue 16, "my work"): the filters a
person's queue needs on the CAPA list, and the open actions across every CAPA,
soonest due first.

"Mine" is the caller's subject, compared canonically as owners are stored, so a
page can ask for its signed-in person's work without knowing how the key's
subject is spelt.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, TypeVar

from sqlalchemy import and_, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from shared.db import SessionFactory
from shared.errors import Invalid
from shared.identity import InvalidIdentity, canonical_identity
from shared.pagination import decode_time_cursor, encode_time_cursor

from ..domain.workflow import FINISHED_ACTION, OPEN_STATES
from ..list_schemas import ActionPage, ActionQueueItem
from ..models import ActionRow, Capa
from .common import action_view

R = TypeVar("R")


def canonical_filter(name: str, value: str) -> str:
    """Owners are stored canonical, so a filter is canonicalised the same way."""
    try:
        return canonical_identity(value)
    except InvalidIdentity as exc:
        raise Invalid(f"The {name} filter is not a valid identity.", [(name, str(exc))]) \
            from None


@dataclass(frozen=True)
class Ownership:
    """Whose work: an owner, anyone's / nobody's, the caller's own / not."""

    owner: str | None = None
    assigned: bool | None = None
    mine: bool | None = None
    subject: str | None = None

    def where(self, query: SelectOfScalar[R], column: Any) -> SelectOfScalar[R]:
        if self.owner:
            query = query.where(column == canonical_filter("owner", self.owner))
        if self.assigned is not None:
            query = query.where(column.is_not(None) if self.assigned else column.is_(None))
        if self.mine is not None and self.subject:
            me = column == canonical_filter("mine", self.subject)
            # Not mine: someone else's or nobody's (NULL compares as unknown).
            query = query.where(me if self.mine else or_(~me, column.is_(None)))
        return query


async def count(session: AsyncSession, query: SelectOfScalar[Any]) -> int:
    """How many rows the filtered query selects over all pages."""
    return int((await session.exec(select(func.count()).select_from(query.subquery()))).one())


@dataclass(frozen=True)
class DueKeyset:
    """Rows by due date, soonest first (the id breaks ties). The cursor is the
    shared time cursor of the due day's midnight UTC, so the list publishes the
    same cursor pattern as every other."""

    due: Any
    ident: Any

    def select(self, query: SelectOfScalar[R], cursor: str | None,
               limit: int) -> SelectOfScalar[R]:
        if cursor:
            moment, last = decode_time_cursor(cursor)
            day = moment.date()
            query = query.where(or_(self.due > day, and_(self.due == day, self.ident > last)))
        return query.order_by(self.due, self.ident).limit(limit + 1)

    def page(self, rows: Sequence[R], limit: int) -> tuple[list[R], str | None]:
        shown = list(rows[:limit])
        if len(rows) <= limit:
            return shown, None
        last: Any = shown[-1]
        due: date = getattr(last, self.due.key)
        return shown, encode_time_cursor(datetime.combine(due, time(), tzinfo=UTC),
                                         getattr(last, self.ident.key))


_SOONEST_DUE = DueKeyset(col(ActionRow.due_date), col(ActionRow.id))


@dataclass(frozen=True)
class ActionFilter:
    who: Ownership = Ownership()
    # Open: not done or cancelled, on a CAPA that is not finished either.
    open: bool | None = None
    due_before: date | None = None
    overdue: bool | None = None


async def list_actions_due(sessions: SessionFactory, *, filters: ActionFilter, limit: int,
                           cursor: str | None, now: datetime) -> ActionPage:
    """Actions across every CAPA, soonest due first, each with its CAPA's number."""
    query = select(ActionRow).join(Capa, col(Capa.id) == col(ActionRow.capa_id))
    query = filters.who.where(query, col(ActionRow.owner))
    unfinished = and_(col(ActionRow.status).not_in(list(FINISHED_ACTION)),
                      col(Capa.status).in_(list(OPEN_STATES)))
    if filters.open is not None:
        query = query.where(unfinished if filters.open else ~unfinished)
    if filters.due_before:
        query = query.where(col(ActionRow.due_date) < filters.due_before)
    if filters.overdue is not None:
        late = and_(unfinished, col(ActionRow.due_date) < now.date())
        query = query.where(late if filters.overdue else ~late)
    async with sessions() as session:
        rows = (await session.exec(_SOONEST_DUE.select(query, cursor, limit))).all()
        page, next_cursor = _SOONEST_DUE.page(rows, limit)
        capas = {c.id: c for c in (await session.exec(
            select(Capa).where(col(Capa.id).in_({a.capa_id for a in page})))).all()}
        total = await count(session, query)
    items = [ActionQueueItem(**action_view(a, now.date()).model_dump(),
                             capa_number=capas[a.capa_id].number,
                             capa_title=capas[a.capa_id].title) for a in page]
    return ActionPage(items=items, next_cursor=next_cursor, total=total)
