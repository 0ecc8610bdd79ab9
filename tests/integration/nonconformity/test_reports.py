"""GET /v1/reports/nonconformities-per-week on SQLite and PostgreSQL: UTC ISO weeks,
zero-filled, one GROUP BY query; PostgreSQL runs with a non-UTC session zone so a
day taken in local time would land NCs in the wrong week."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from uuid import UUID

import asyncpg
import pytest
from sqlalchemy import update
from sqlalchemy.engine import make_url
from sqlmodel import col

from services.nonconformity.domain.weekly import week_start
from services.nonconformity.models import Nonconformity
from tests.conftest import BUS_MIGRATIONS, DatabaseFactory, _asyncpg_dsn, migrate
from tests.integration.nonconformity.conftest import NcService, start_nc_service

PATH = "/v1/reports/nonconformities-per-week"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def nc_db(request: pytest.FixtureRequest, new_sqlite_database: DatabaseFactory,
                new_postgres_database: DatabaseFactory,
                api_keys: tuple[Path, dict[str, str]]) -> AsyncIterator[NcService]:
    bus_url = await new_sqlite_database()
    await migrate(BUS_MIGRATIONS, bus_url)
    if request.param == "postgres":
        url = await new_postgres_database()
        # New York is behind UTC: Monday 01:00 UTC is still Sunday there.
        conn = await asyncpg.connect(_asyncpg_dsn(url), timeout=10)
        try:
            await conn.execute(f'ALTER DATABASE "{make_url(url).database}" '
                               "SET timezone TO 'America/New_York'")
        finally:
            await conn.close()
    else:
        url = await new_sqlite_database()
    async for service in start_nc_service(url, bus_url, *api_keys):
        yield service


async def _report_at(nc: NcService, source: str, at: datetime) -> None:
    r = await nc.report(source=source, title=f"{source} report at {at.isoformat()}")
    assert r.status_code == 201, r.text
    async with nc.app.state.runtime.sessions() as session:
        await session.exec(update(Nonconformity)  # type: ignore[call-overload]
                           .where(col(Nonconformity.id) == UUID(r.json()["id"]))
                           .values(created_at=at))
        await session.commit()


@pytest.mark.requirement("cfr820-100a1", "cfr820-100a7")
async def test_counts_per_utc_week_and_source_zero_filled(nc_db: NcService) -> None:
    nc = nc_db
    monday = datetime.combine(week_start(datetime.now(UTC).date()), time(), tzinfo=UTC)
    await nc.report(source="support")                                   # this week
    await nc.report(source="support")
    await _report_at(nc, "customer", monday - timedelta(weeks=1, hours=-1))  # Mon 01:00 UTC
    await _report_at(nc, "supplier", monday - timedelta(minutes=1))          # Sun 23:59 UTC
    await _report_at(nc, "internal", monday - timedelta(weeks=11) + timedelta(hours=3))
    await _report_at(nc, "internal", monday - timedelta(weeks=11, minutes=1))  # outside

    r = await nc.client.get(PATH, params={"weeks": 12}, headers=nc.auth("reporter"))
    assert r.status_code == 200, r.text
    body = r.json()
    weeks = body["weeks"]
    assert len(weeks) == 12
    assert [w["week_start"] for w in weeks] == [
        (monday.date() - timedelta(weeks=n)).isoformat() for n in range(11, -1, -1)]
    assert body["since"] == weeks[0]["week_start"]
    assert body["until"] == (monday.date() + timedelta(weeks=1)).isoformat()
    assert body["sources"] == ["customer", "internal", "supplier", "support"]
    zero = dict.fromkeys(body["sources"], 0)
    assert weeks[-1]["counts"] == zero | {"support": 2} and weeks[-1]["total"] == 2
    assert weeks[-2]["counts"] == zero | {"customer": 1, "supplier": 1}
    assert weeks[0]["counts"] == zero | {"internal": 1}
    assert all(w["counts"] == zero and w["total"] == 0 for w in weeks[1:-2])

    only_this_week = await nc.client.get(PATH, params={"weeks": 1}, headers=nc.auth("manager"))
    assert only_this_week.json()["sources"] == ["support"]
    assert [w["counts"] for w in only_this_week.json()["weeks"]] == [{"support": 2}]


async def test_empty_window_default_weeks_and_bad_input(nc_db: NcService) -> None:
    nc = nc_db
    r = await nc.client.get(PATH, headers=nc.auth("verifier"))
    assert r.status_code == 200
    assert r.json()["sources"] == [] and len(r.json()["weeks"]) == 12
    assert all(w == {"week_start": w["week_start"], "counts": {}, "total": 0}
               for w in r.json()["weeks"])
    for weeks in ("0", "105", "twelve"):
        bad = await nc.client.get(PATH, params={"weeks": weeks}, headers=nc.auth("manager"))
        assert bad.status_code == 422, weeks
        assert bad.headers["content-type"] == "application/problem+json"
        assert "query.weeks" in [e["field"] for e in bad.json()["errors"]]


async def test_only_people_may_read_it(nc_db: NcService) -> None:
    nc = nc_db
    assert (await nc.client.get(PATH)).status_code == 401
    for role in ("reporter", "engineer", "verifier", "manager", "admin"):
        assert (await nc.client.get(PATH, headers=nc.auth(role))).status_code == 200, role
    for token in ("source:alertmanager", "source:grafana"):
        assert (await nc.client.get(PATH, headers=nc.auth(token))).status_code == 403
