"""The one keyset-pagination helper: every row exactly once, in order, across
pages, also when rows share a time stamp (the id breaks the tie)."""

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import UTCDateTime
from shared.pagination import SequenceKeyset, TimeKeyset


class PagedRow(SQLModel, table=True):
    __tablename__ = "keyset_rows"

    id: UUID = Field(primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime)
    sequence: int


@pytest.fixture
async def session():  # type: ignore[no-untyped-def]
    engine = create_async_engine("sqlite+aiosqlite://")
    async with engine.begin() as conn:
        await conn.run_sync(PagedRow.metadata.create_all, tables=[PagedRow.__table__])
    async with AsyncSession(engine) as s:
        start = datetime(2026, 12, 1, tzinfo=UTC)
        # Three rows per time stamp: pages must split ties without losing any.
        for n in range(23):
            s.add(PagedRow(id=uuid4(), at=start + timedelta(seconds=n // 3),
                           sequence=n + 1))
        await s.commit()
        yield s
    await engine.dispose()


async def _walk(session: AsyncSession, keyset: TimeKeyset | SequenceKeyset,
                limit: int) -> list[list[PagedRow]]:
    pages, cursor = [], None
    while True:
        page, cursor = await keyset.fetch(session, select(PagedRow), cursor, limit)
        pages.append(page)
        if cursor is None:
            return pages


@pytest.mark.parametrize("newest_first", [True, False])
@pytest.mark.parametrize("limit", [1, 2, 5, 23, 50])
@pytest.mark.requirement("part11-11.10b")
async def test_time_pages_cover_every_row_once_in_order(session: AsyncSession, limit: int,
                                                        newest_first: bool) -> None:
    keyset = TimeKeyset(col(PagedRow.at), col(PagedRow.id), newest_first=newest_first)
    pages = await _walk(session, keyset, limit)
    seen = [r for page in pages for r in page]
    expected = sorted((await session.exec(select(PagedRow))).all(),
                      key=lambda r: (r.at, r.id), reverse=newest_first)
    assert [r.id for r in seen] == [r.id for r in expected]
    assert all(len(p) == limit for p in pages[:-1])
    assert len(pages) == max(1, -(-23 // limit))


async def test_sequence_pages_follow_the_sequence(session: AsyncSession) -> None:
    pages = await _walk(session, SequenceKeyset(col(PagedRow.sequence)), 10)
    assert [[r.sequence for r in p] for p in pages] == [list(range(1, 11)),
                                                       list(range(11, 21)), [21, 22, 23]]


async def test_a_cursor_past_the_end_gives_an_empty_last_page(session: AsyncSession) -> None:
    keyset = TimeKeyset(col(PagedRow.at), col(PagedRow.id))
    rows = (await session.exec(keyset.select(select(PagedRow), "0." + "0" * 32, 10))).all()
    assert keyset.page(rows, 10) == ([], None)
