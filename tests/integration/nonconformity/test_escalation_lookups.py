"""The escalation's two lookups, each written twice, agree: the SQL one for one
NC (report, edit) and the in-memory one loaded once for a whole alert payload.

On a varied data set (several fingerprints and recurrence keys, NCs and
occurrences inside the window, outside it and on its first moment, CAPAs in
every state, a problem with more NCs than the lookup looks at), every NC of
it and a few newcomers are looked up both ways, before and after the payload
writes, on SQLite and on PostgreSQL."""

import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.nonconformity.domain import CapaLink, EscalationPolicy, recurrence_key
from services.nonconformity.domain.recurrence import CANDIDATES, window_start
from services.nonconformity.models import Nonconformity, Occurrence
from services.nonconformity.service.escalation import (
    capa_of_recurrence,
    load_recurrence_pool,
    load_window_counts,
    occurrences_in_window,
)
from shared.db import SessionFactory, create_engine, session_factory
from tests.conftest import DatabaseFactory, migrate
from tests.integration.nonconformity.conftest import NC_MIGRATIONS

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
POLICY = EscalationPolicy(recurrence_window=timedelta(days=30))
SINCE = window_start(POLICY, NOW)
TICK = timedelta(microseconds=1)
FINGERPRINTS = ["fp-a", "fp-b", "fp-c", None]
PROBLEMS = [("payments", "checkout"), ("Auth", "login "), ("db", "primary"), (None, None)]


@pytest.fixture(params=["sqlite", "postgres"])
async def sessions(request: pytest.FixtureRequest, new_sqlite_database: DatabaseFactory,
                   new_postgres_database: DatabaseFactory) -> AsyncIterator[SessionFactory]:
    url = await (new_sqlite_database if request.param == "sqlite" else new_postgres_database)()
    await migrate(NC_MIGRATIONS, url)
    engine = create_engine(url)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


class DataSet:
    """NCs with distinct creation times (the lookups order by them; a tie would
    make "the newest" a matter of chance in SQL)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.ncs: list[Nonconformity] = []
        self.occurrences: list[Occurrence] = []
        self._clock = 0

    def nc(self, *, created_at: datetime, fingerprint: str | None = None,
           problem: tuple[str | None, str | None] = (None, None),
           capa: str = "none", started: list[datetime] | None = None) -> Nonconformity:
        self._clock += 1
        created_at += self._clock * TICK  # distinct; far from the edge, so on the chosen side
        category, item = problem
        nc = Nonconformity(
            number=f"NC-{self.prefix}-{self._clock:05d}", title=f"problem {self._clock}",
            source="monitoring", severity="minor", reported_by="test", category=category,
            affected_item=item, recurrence_key=recurrence_key(category, item),
            fingerprint=fingerprint,
            first_seen=created_at, last_seen=created_at, created_at=created_at,
            updated_at=created_at, **_capa_state(capa, created_at))
        self.ncs.append(nc)
        for start in dict.fromkeys(started or [created_at]):  # one occurrence per start
            self.occurrences.append(Occurrence(nonconformity_id=nc.id, fingerprint=fingerprint,
                                               started_at=start))
        return nc


def _capa_state(capa: str, at: datetime) -> dict[str, Any]:
    return {
        "none": {},
        "escalated": {"capa_link": CapaLink.requested, "escalated_at": at},
        "waiting": {"capa_link": CapaLink.requested},  # joins another NC's CAPA when it opens
        "open": {"capa_link": CapaLink.open, "capa_id": uuid.uuid4(), "capa_number": "CAPA-1",
                 "escalated_at": at},
        "closed": {"capa_link": CapaLink.closed, "capa_id": uuid.uuid4(), "escalated_at": at},
    }[capa]


def varied() -> DataSet:
    data = DataSet("T")
    rng = random.Random(18)
    hour = timedelta(hours=1)
    spread = [NOW - timedelta(days=1), NOW - timedelta(days=29), SINCE + hour, SINCE - hour,
              NOW - timedelta(days=45), NOW - timedelta(days=90)]
    for _ in range(90):
        start = rng.choice(spread) - timedelta(seconds=rng.randrange(0, 3600))
        data.nc(created_at=rng.choice(spread), fingerprint=rng.choice(FINGERPRINTS),
                problem=rng.choice(PROBLEMS),
                capa=rng.choice(["none", "none", "escalated", "waiting", "open", "closed"]),
                started=[start, rng.choice(spread)])
    # The window's edge exactly: on its first moment counts, a tick before does not
    # (no jitter: these two keep their times to the microsecond).
    for at in (SINCE, SINCE - TICK):
        nc = Nonconformity(number=f"NC-E-{at.microsecond}", title="edge", source="monitoring",
                           severity="minor", reported_by="test", fingerprint="fp-edge",
                           category="edge", affected_item="case",
                           recurrence_key=recurrence_key("edge", "case"), first_seen=at,
                           last_seen=at, created_at=at, updated_at=at)
        data.ncs.append(nc)
        data.occurrences.append(Occurrence(nonconformity_id=nc.id, fingerprint="fp-edge",
                                           started_at=at))
    # More NCs of one problem than the lookups look at: the open CAPA is one too far back.
    data.nc(created_at=NOW - timedelta(days=5), fingerprint="fp-burst", capa="open")
    for n in range(CANDIDATES + 3):
        data.nc(created_at=NOW - timedelta(days=4, minutes=-n), fingerprint="fp-burst",
                problem=("burst", f"item {n % 2}"), capa="waiting")
    # Exactly as many as the lookups look at, behind the newest NC of the problem: the
    # newest sees the escalated one as the last it looks at, any newcomer misses it.
    data.nc(created_at=NOW - timedelta(days=3), fingerprint="fp-deep", capa="escalated")
    for n in range(CANDIDATES):
        data.nc(created_at=NOW - timedelta(days=2, minutes=-n), fingerprint="fp-deep",
                capa="waiting")
    return data


def newcomers(prefix: str) -> list[Nonconformity]:
    """NCs of a payload not yet written, naming known and unknown problems."""
    data = DataSet(prefix)
    for fingerprint, problem in [("fp-a", ("payments", "checkout")), ("fp-b", (None, None)),
                                 (None, ("db", "primary")), ("fp-burst", ("burst", "item 1")),
                                 ("fp-edge", ("edge", "case")), ("fp-deep", (None, None)),
                                 ("fp-new", ("new", "thing")),
                                 (None, (None, None))]:
        data.nc(created_at=NOW, fingerprint=fingerprint, problem=problem)
    return data.ncs


async def _agree(session: AsyncSession, probes: list[Nonconformity], counts: Any,
                 pool: Any) -> None:
    for nc in probes:
        assert counts.seen(nc) == await occurrences_in_window(session, nc, policy=POLICY,
                                                             now=NOW), nc.number
        in_memory, in_sql = pool.capa_of_recurrence(nc), await capa_of_recurrence(session, nc)
        assert (in_memory and in_memory.id) == (in_sql and in_sql.id), nc.number


async def test_in_memory_lookups_agree_with_their_sql_twins(sessions: SessionFactory) -> None:
    data = varied()
    async with sessions() as session:
        session.add_all(data.ncs)
        await session.flush()
        session.add_all(data.occurrences)
        await session.commit()

    async with sessions() as session:
        # As the database gives them back (times as stored), and some not written.
        known = (await session.exec(select(Nonconformity))).all()
        assert len(known) == len(data.ncs)
        probes = [*known, *newcomers("P")]
        counts = await load_window_counts(session, since=SINCE,
                                          fingerprints=[nc.fingerprint for nc in probes],
                                          keys=[nc.recurrence_key for nc in probes])
        pool = await load_recurrence_pool(session, probes, known=[])
        await _agree(session, probes, counts, pool)
        # The data set is varied enough to say something: the answers differ.
        seen = {counts.seen(nc) for nc in probes}
        joined = [pool.capa_of_recurrence(nc) for nc in probes]
        assert len(seen) >= 4 and 0 in seen
        assert {nc.capa_link for nc in joined if nc} == {CapaLink.open, CapaLink.requested}
        assert None in joined
        edge = next(nc for nc in known if nc.fingerprint == "fp-edge")
        assert counts.seen(edge) == 1  # of the two edge NCs, only the one on SINCE

        # A payload writes: new NCs (one escalated), re-firings inside and outside
        # the window. The in-memory twins are told, as monitoring tells them; a
        # count after the flush must match.
        arrivals = newcomers("A")
        arrivals[0].capa_link, arrivals[0].escalated_at = CapaLink.requested, NOW
        starts = [NOW, SINCE, SINCE - TICK, NOW - timedelta(days=60)]
        session.add_all(arrivals)
        await session.flush()
        for i, nc in enumerate(arrivals):
            counts.add_nonconformity(nc)
            pool.add(nc)
            for start in starts[:1 + i % len(starts)]:
                session.add(Occurrence(nonconformity_id=nc.id, fingerprint=nc.fingerprint,
                                       started_at=start))
                counts.add_occurrence(nc.fingerprint, start)
        await session.flush()
        await _agree(session, [*probes, *arrivals], counts, pool)
        # The escalated arrival is what a later recurrence of fp-a now waits for
        # (unless an open CAPA of its problem is there to join).
        later = newcomers("L")[0]
        joined_later = pool.capa_of_recurrence(later)
        assert joined_later is not None
        assert joined_later.capa_link == CapaLink.open or joined_later.id == arrivals[0].id
        await session.rollback()
