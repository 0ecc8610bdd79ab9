"""The orders the NC list (the inbox) can be sorted in, each a keyset.

An allow-list, not a column name taken from the query string: each order is a
keyset whose cursor is the sort key of the last row shown, so paging stays
stable while NCs arrive (no OFFSET). Time orders page with the shared
``TimeKeyset``; the severity order puts a rank in front of the time
(``<rank>.<micros>.<id>``), most severe first for ``-severity``.

Every cursor the published pattern admits is a position under every order
(keyset pagination needs no row there): a time cursor given to the severity
order stands at that time within the first rank, and a ranked cursor given to a
time order is read for its time. So a cursor from another order is never an
error, just a position.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import and_, case, or_
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from shared.events.base import Severity
from shared.pagination import TimeKeyset, decode_time_cursor, encode_time_cursor

from ..models import Nonconformity

R = TypeVar("R")

# A cursor: an optional severity rank, then the time and id of shared.pagination.
INBOX_CURSOR_PATTERN = r"^(?:[0-9]\.)?[0-9]{1,16}\.[0-9a-f]{32}$"


class InboxSort(StrEnum):
    """``-`` first: descending (newest, most recently seen, most severe first)."""

    newest = "-created_at"
    oldest = "created_at"
    recently_seen = "-last_seen"
    least_recently_seen = "last_seen"
    most_severe = "-severity"
    least_severe = "severity"


# Most severe first: the order of the published vocabulary.
SEVERITY_RANK = {severity.value: rank for rank, severity in enumerate(Severity)}
_RANK = case(SEVERITY_RANK, value=col(Nonconformity.severity), else_=len(SEVERITY_RANK))


def _time_part(cursor: str | None) -> str | None:
    """The time cursor inside a ranked one (a time order reads only that)."""
    if cursor and cursor.count(".") == 2:
        return cursor.split(".", 1)[1]
    return cursor


@dataclass(frozen=True)
class SeverityKeyset:
    """Rows by severity rank, then newest first within a rank (the id breaks ties)."""

    most_severe_first: bool

    def select(self, query: SelectOfScalar[R], cursor: str | None,
               limit: int) -> SelectOfScalar[R]:
        time, ident = col(Nonconformity.created_at), col(Nonconformity.id)
        if cursor:
            parts = cursor.split(".")
            rank = int(parts[0]) if len(parts) == 3 else self._first_rank()
            moment, last = decode_time_cursor(".".join(parts[-2:]))
            later_rank = _RANK > rank if self.most_severe_first else _RANK < rank
            query = query.where(or_(later_rank, and_(
                _RANK == rank, or_(time < moment, and_(time == moment, ident < last)))))
        rank_order = _RANK.asc() if self.most_severe_first else _RANK.desc()
        return query.order_by(rank_order, time.desc(), ident.desc()).limit(limit + 1)

    def _first_rank(self) -> int:
        return 0 if self.most_severe_first else len(SEVERITY_RANK)

    def page(self, rows: Sequence[R], limit: int) -> tuple[list[R], str | None]:
        shown = list(rows[:limit])
        if len(rows) <= limit:
            return shown, None
        last: Any = shown[-1]
        rank = SEVERITY_RANK.get(str(last.severity), len(SEVERITY_RANK))
        return shown, f"{rank}.{encode_time_cursor(last.created_at, last.id)}"

    async def fetch(self, session: AsyncSession, query: SelectOfScalar[R], cursor: str | None,
                    limit: int) -> tuple[list[R], str | None]:
        return self.page((await session.exec(self.select(query, cursor, limit))).all(), limit)


@dataclass(frozen=True)
class TimeOrder:
    """A time keyset that also takes a ranked cursor (for its time)."""

    keyset: TimeKeyset

    async def fetch(self, session: AsyncSession, query: SelectOfScalar[R], cursor: str | None,
                    limit: int) -> tuple[list[R], str | None]:
        return await self.keyset.fetch(session, query, _time_part(cursor), limit)


def _by(column: Any, newest_first: bool) -> TimeOrder:
    return TimeOrder(TimeKeyset(col(column), col(Nonconformity.id), newest_first=newest_first))


ORDERS: dict[InboxSort, TimeOrder | SeverityKeyset] = {
    InboxSort.newest: _by(Nonconformity.created_at, True),
    InboxSort.oldest: _by(Nonconformity.created_at, False),
    InboxSort.recently_seen: _by(Nonconformity.last_seen, True),
    InboxSort.least_recently_seen: _by(Nonconformity.last_seen, False),
    InboxSort.most_severe: SeverityKeyset(most_severe_first=True),
    InboxSort.least_severe: SeverityKeyset(most_severe_first=False),
}
