"""Keyset pagination: one helper for every list the services page through.

A page is the rows after a cursor in a fixed order, fetched with one extra
row to learn whether another page follows. The cursor is the sort key of the
last row shown, written so that the pattern the API publishes
(shared.http.pagination) describes exactly the cursors it takes: any string
matching it is a position (keyset pagination needs no row there).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy import and_, or_
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

R = TypeVar("R")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def encode_time_cursor(moment: datetime, ident: UUID) -> str:
    """The position after a row sorted by (time, id). A time without a zone is
    UTC, as every stored CAPAflow time stamp is."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    micros = (aware - _EPOCH) // timedelta(microseconds=1)
    return f"{micros}.{ident.hex}"


def decode_time_cursor(cursor: str) -> tuple[datetime, UUID]:
    """The (time, id) of a cursor that matched TIME_CURSOR_PATTERN (the route's
    Query checked it)."""
    micros, _, ident = cursor.partition(".")
    return _EPOCH + timedelta(microseconds=int(micros)), UUID(hex=ident)


def encode_sequence_cursor(sequence: int) -> str:
    return str(sequence)


def decode_sequence_cursor(cursor: str) -> int:
    return int(cursor)


@dataclass(frozen=True)
class TimeKeyset:
    """Rows ordered by (a time column, the id), newest first unless told otherwise.

    The id breaks ties, so rows written in the same microsecond are neither
    shown twice nor skipped between pages.
    """

    time: Any
    ident: Any
    newest_first: bool = True

    def select(self, query: SelectOfScalar[R], cursor: str | None,
               limit: int) -> SelectOfScalar[R]:
        """The query restricted to the page after ``cursor``, ordered, one row extra."""
        if cursor:
            moment, last = decode_time_cursor(cursor)
            if self.newest_first:
                after = or_(self.time < moment, and_(self.time == moment, self.ident < last))
            else:
                after = or_(self.time > moment, and_(self.time == moment, self.ident > last))
            query = query.where(after)
        order = ((self.time.desc(), self.ident.desc()) if self.newest_first
                 else (self.time, self.ident))
        return query.order_by(*order).limit(limit + 1)

    def page(self, rows: Sequence[R], limit: int) -> tuple[list[R], str | None]:
        """The rows to show and the cursor of the next page (None on the last)."""
        shown = list(rows[:limit])
        if len(rows) <= limit:
            return shown, None
        last = shown[-1]
        return shown, encode_time_cursor(getattr(last, self.time.key),
                                         getattr(last, self.ident.key))

    async def fetch(self, session: AsyncSession, query: SelectOfScalar[R], cursor: str | None,
                    limit: int) -> tuple[list[R], str | None]:
        """The page after ``cursor`` of ``query`` and the next page's cursor."""
        return self.page((await session.exec(self.select(query, cursor, limit))).all(), limit)


@dataclass(frozen=True)
class SequenceKeyset:
    """Rows ordered by an increasing sequence number (an audit trail), oldest first."""

    sequence: Any

    def select(self, query: SelectOfScalar[R], cursor: str | None,
               limit: int) -> SelectOfScalar[R]:
        if cursor:
            query = query.where(self.sequence > decode_sequence_cursor(cursor))
        return query.order_by(self.sequence).limit(limit + 1)

    def page(self, rows: Sequence[R], limit: int) -> tuple[list[R], str | None]:
        shown = list(rows[:limit])
        if len(rows) <= limit:
            return shown, None
        return shown, encode_sequence_cursor(getattr(shown[-1], self.sequence.key))

    async def fetch(self, session: AsyncSession, query: SelectOfScalar[R], cursor: str | None,
                    limit: int) -> tuple[list[R], str | None]:
        """The page after ``cursor`` of ``query`` and the next page's cursor."""
        return self.page((await session.exec(self.select(query, cursor, limit))).all(), limit)
