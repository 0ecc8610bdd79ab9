"""On real PostgreSQL, where reports run concurrently (SQLite runs one writer
at a time): readable numbers stay unique and gapless, and the escalation
policy still sees the reports that committed just before."""

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlmodel import col, select

from services.nonconformity.models import Nonconformity, NumberSequence
from tests.conftest import BUS_MIGRATIONS, DatabaseFactory, migrate
from tests.integration.nonconformity.conftest import (
    NcService,
    alert,
    alertmanager_payload,
    start_nc_service,
)

pytestmark = [pytest.mark.postgres]

ESCALATED = "capaflow.nonconformity.escalated.v1"


@pytest.fixture
async def nc_on_postgres(new_postgres_database: DatabaseFactory,
                         new_sqlite_database: DatabaseFactory,
                         api_keys: tuple[Path, dict[str, str]]) -> AsyncIterator[NcService]:
    bus_url = await new_sqlite_database()
    await migrate(BUS_MIGRATIONS, bus_url)
    async for service in start_nc_service(await new_postgres_database(), bus_url, *api_keys):
        yield service


async def _numbers(nc: NcService) -> tuple[list[int], int]:
    async with nc.app.state.runtime.sessions() as session:
        numbers = (await session.exec(select(Nonconformity.number))).all()
        counter = (await session.exec(select(col(NumberSequence.last_value)))).one()
    sequence = []
    for number in numbers:
        found = re.fullmatch(r"NC-\d{4}-(\d{5,})", number)
        assert found, f"not a readable number: {number}"
        sequence.append(int(found.group(1)))
    return sorted(sequence), counter


async def test_concurrent_reports_and_payloads_get_unique_gapless_numbers(
        nc_on_postgres: NcService) -> None:
    nc = nc_on_postgres
    # Every third report repeats a ticket: those roll back after their INSERT
    # and return the first NC, so they must leave no gap behind.
    reports = [nc.report(title=f"Concurrent report {i}", external_ref=f"ZD-{i % 20}",
                         severity="critical" if i % 7 == 0 else "minor")
               for i in range(30)]
    payloads = [nc.client.post("/v1/intake/alertmanager", headers=nc.auth("source:alertmanager"),
                               json=alertmanager_payload(*[alert(f"p{p}-{i}", service=f"s{p}-{i}")
                                                           for i in range(10)]))
                for p in range(3)]
    responses = await asyncio.gather(*reports, *payloads)
    assert all(r.status_code in (200, 201) for r in responses), [r.text for r in responses]
    by_ticket: dict[str, set[str]] = {}
    for r in responses[:30]:
        by_ticket.setdefault(r.json()["external_ref"], set()).add(r.json()["id"])
    assert len(by_ticket) == 20 and all(len(ids) == 1 for ids in by_ticket.values())

    sequence, counter = await _numbers(nc)
    assert sequence == list(range(1, 20 + 30 + 1))
    assert counter == 50


async def test_a_concurrent_burst_of_one_problem_asks_for_one_capa(
        nc_on_postgres: NcService) -> None:
    nc = nc_on_postgres
    responses = await asyncio.gather(*(nc.report(title=f"Valve sticks {i}", severity="critical",
                                                 category="Valves", affected_item="Line 9")
                                       for i in range(8)))
    assert all(r.status_code == 201 for r in responses)
    items = [r.json() for r in responses]
    escalated = [i for i in items if i["escalated_at"] is not None]
    assert len(escalated) == 1, "the first report escalates; the others wait for its CAPA"
    assert all(i["capa_link"] == "requested" for i in items)
    assert len(await nc.events(event_type=ESCALATED)) == 1
