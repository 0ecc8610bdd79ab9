"""GET /v1/reports/management-review on SQLite and PostgreSQL: the NC figures of the
review, and that each one is exactly the ``total`` of the inbox list a dashboard
links it to (a figure and its list cannot disagree)."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import update
from sqlmodel import col

from services.nonconformity.models import Nonconformity
from shared.periods import PERIOD_NOT_FORWARD
from tests.conftest import BUS_MIGRATIONS, DatabaseFactory, migrate
from tests.integration.nonconformity.conftest import NcService, start_nc_service

PATH = "/v1/reports/management-review"
DAY = timedelta(days=1)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def nc(request: pytest.FixtureRequest, new_sqlite_database: DatabaseFactory,
             new_postgres_database: DatabaseFactory,
             api_keys: tuple[Path, dict[str, str]]) -> AsyncIterator[NcService]:
    bus_url = await new_sqlite_database()
    await migrate(BUS_MIGRATIONS, bus_url)
    make = new_postgres_database if request.param == "postgres" else new_sqlite_database
    async for service in start_nc_service(await make(), bus_url, *api_keys):
        yield service


async def _seed(nc: NcService, severity: str, status: str, created: datetime) -> str:
    answer = await nc.report(severity=severity, title=f"{severity} {status} {created:%F %T}")
    assert answer.status_code == 201, answer.text
    nc_id = answer.json()["id"]
    async with nc.app.state.runtime.sessions() as session:
        await session.exec(update(Nonconformity)  # type: ignore[call-overload]
                           .where(col(Nonconformity.id) == UUID(nc_id))
                           .values(created_at=created, status=status))
        await session.commit()
    return str(nc_id)


async def _get(nc: NcService, path: str, **params: Any) -> dict[str, Any]:
    answer = await nc.client.get(path, params=params, headers=nc.auth("manager"))
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def _total(nc: NcService, **params: Any) -> int:
    return int((await _get(nc, "/v1/nonconformities", limit=1, **params))["total"])


@pytest.mark.requirement("cfr820-100a7")
async def test_review_figures_agree_with_the_filtered_inbox(nc: NcService) -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    end = start + 30 * DAY
    await _seed(nc, "critical", "reported", start)                 # first instant: in
    await _seed(nc, "critical", "accepted", start + 3 * DAY)
    await _seed(nc, "major", "reported", end - timedelta(microseconds=1))  # last instant: in
    await _seed(nc, "minor", "rejected", start + 10 * DAY)
    await _seed(nc, "critical", "reported", end)                   # the end is exclusive
    oldest = await _seed(nc, "minor", "reported", start - 40 * DAY)  # before: backlog only
    period = {"since": start.isoformat(), "until": end.isoformat()}

    figures = await _get(nc, PATH, **period)
    assert figures["reported_in_period"] == 4
    assert figures["by_severity"] == {"critical": 2, "major": 1, "minor": 1, "observation": 0}
    assert list(figures["by_severity"]) == ["critical", "major", "minor", "observation"]
    assert figures["by_status"] == {"reported": 2, "accepted": 1, "rejected": 1,
                                    "duplicate": 0, "closed": 0}
    backlog = figures["untriaged"]
    assert backlog["total"] == 4
    assert backlog["oldest_id"] == oldest
    assert backlog["oldest_reported_at"].startswith("2026-01-20")
    assert backlog["oldest_age_days"] == (datetime.now(UTC) - (start - 40 * DAY)).days

    # Every figure is the total of the list the dashboard links it to.
    for severity, count in figures["by_severity"].items():
        assert await _total(nc, severity=severity, **period) == count, severity
    for status, count in figures["by_status"].items():
        assert await _total(nc, status=status, **period) == count, status
    assert await _total(nc, **period) == figures["reported_in_period"]
    assert await _total(nc, status="reported") == backlog["total"]
    first = await _get(nc, "/v1/nonconformities", status="reported", sort="created_at", limit=1)
    assert first["items"][0]["id"] == backlog["oldest_id"]


async def test_previous_period_and_edges(nc: NcService) -> None:
    day = datetime(2026, 5, 4, tzinfo=UTC)
    await _seed(nc, "major", "accepted", day - timedelta(microseconds=1))
    await _seed(nc, "major", "accepted", day)
    await _seed(nc, "minor", "accepted", day + DAY - timedelta(microseconds=1))

    async def reported(since: datetime, until: datetime) -> int:
        figures = await _get(nc, PATH, since=since.isoformat(), until=until.isoformat())
        return int(figures["reported_in_period"])

    # One-day periods back to back: each instant is in exactly one of them.
    assert await reported(day, day + DAY) == 2
    assert await reported(day - DAY, day) == 1
    # 52 weeks and the 52 weeks before them.
    assert await reported(day + DAY - 52 * 7 * DAY, day + DAY) == 3
    assert await reported(day + DAY - 104 * 7 * DAY, day + DAY - 52 * 7 * DAY) == 0
    # The first day the calendar allows.
    assert await reported(datetime(1900, 1, 1, tzinfo=UTC), day + DAY) == 3
    # No backlog: no oldest.
    backlog = (await _get(nc, PATH))["untriaged"]
    assert backlog == {"total": 0, "oldest_id": None, "oldest_number": None,
                       "oldest_reported_at": None, "oldest_age_days": None}


async def test_a_period_that_does_not_run_forward_is_a_422_of_its_own_type(
        nc: NcService) -> None:
    # Backwards, empty, and a since after now with until left to default to now.
    for period in ({"since": "2026-05-05T00:00:00Z", "until": "2026-05-04T00:00:00Z"},
                   {"since": "2026-05-04T02:00:00+02:00", "until": "2026-05-04T00:00:00Z"},
                   {"since": "9998-12-31T00:00:00Z"}):
        answer = await nc.client.get(PATH, params=period, headers=nc.auth("manager"))
        assert answer.status_code == 422, answer.text
        problem = answer.json()
        assert problem["type"] == PERIOD_NOT_FORWARD
        assert [e["field"] for e in problem["errors"]] == ["query.since"]
    # Offsets at the calendar's ends move the UTC moments past them: still answered.
    for period in ({"since": "1900-01-01T00:00:00+14:00", "until": "9998-12-31T23:00:00-14:00"},
                   {"until": "1900-01-01T00:00:00+14:00"}):
        answer = await nc.client.get(PATH, params=period, headers=nc.auth("manager"))
        assert answer.status_code == 200, answer.text


async def test_a_period_outside_the_calendar_is_a_422(nc: NcService) -> None:
    answer = await nc.client.get(PATH, params={"since": "1899-12-31T00:00:00Z"},
                                 headers=nc.auth("manager"))
    assert answer.status_code == 422
    assert "since" in answer.text
    refused = await nc.client.get(PATH, headers={"Authorization": "Bearer nope"})
    assert refused.status_code == 401
