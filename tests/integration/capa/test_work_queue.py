"""The CAPA service's work-queue reads: assigned / mine / due_before on the CAPA
list, totals, and the open actions of every CAPA soonest due first, on SQLite and
PostgreSQL."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from services.capa.app import create_app
from tests.conftest import DatabaseFactory, running
from tests.integration.capa.conftest import Capas, capa_settings


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def capas(request: pytest.FixtureRequest, new_sqlite_database: DatabaseFactory,
                new_postgres_database: DatabaseFactory,
                api_keys: tuple[Path, dict[str, str]]) -> AsyncIterator[Capas]:
    keys_path, keys = api_keys
    # The PostgreSQL factory is lazy: the SQLite runs never touch it.
    make = new_postgres_database if request.param == "postgres" else new_sqlite_database
    settings = await capa_settings(make, keys_path)
    app = create_app(settings)
    async with running(app) as client:
        yield Capas(client=client, keys=keys, settings=settings, app=app)


async def _get(capas: Capas, path: str, role: str = "engineer", **params: Any) -> dict[str, Any]:
    answer = await capas.client.get(path, params=params, headers=capas.as_(role))
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def test_capa_list_filters_whose_work_and_due_dates(capas: Capas) -> None:
    mine = await capas.open(owner="Test-Engineer", due_date="2026-12-20")
    theirs = await capas.open(owner="test-verifier", due_date="2027-01-20")
    nobody = await capas.open(due_date="2027-02-20")

    async def ids(role: str = "engineer", **params: Any) -> set[str]:
        page = await _get(capas, "/v1/capas", role, **params)
        assert page["total"] == len(page["items"])
        return {c["id"] for c in page["items"]}

    assert await ids(mine="true") == {mine["id"]}
    assert await ids(mine="false") == {theirs["id"], nobody["id"]}
    assert await ids(assigned="false") == {nobody["id"]}
    assert await ids(assigned="true") == {mine["id"], theirs["id"]}
    assert await ids(due_before="2027-01-01") == {mine["id"]}
    # The verifier's queue: in verification is filtered by status; not his own ones.
    assert await ids("verifier", mine="false") == {mine["id"], nobody["id"]}
    page = await _get(capas, "/v1/capas", limit=1)
    assert (len(page["items"]), page["total"]) == (1, 3)


async def test_actions_of_every_capa_soonest_due_first(capas: Capas) -> None:
    first, second = await capas.open(), await capas.open()
    dues = {"2026-12-24": first, "2026-12-05": second, "2026-12-15": first,
            "2026-12-10": second}
    added = [await capas.add_action(capa["id"], due_date=due) for due, capa in dues.items()]
    await capas.add_action(first["id"], due_date="2026-12-01", owner="someone-else")
    await capas.add_action(second["id"], due_date="2026-12-02", status="done",
                           completion_evidence="done on the spot")
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = await _get(capas, "/v1/actions", mine="true", open="true", limit=3,
                          **({"cursor": cursor} if cursor else {}))
        assert page["total"] == 4
        seen += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert [a["due_date"] for a in seen] == sorted(dues)
    assert {a["id"] for a in seen} == {a["id"] for a in added}
    assert {a["capa_number"] for a in seen} == {first["number"], second["number"]}
    soon = await _get(capas, "/v1/actions", open="true", due_before="2026-12-06")
    assert [a["due_date"] for a in soon["items"]] == ["2026-12-01", "2026-12-05"]
    theirs = await _get(capas, "/v1/actions", owner="SOMEONE-ELSE")
    assert [a["owner"] for a in theirs["items"]] == ["someone-else"]


@pytest.mark.parametrize("path, params", [
    ("/v1/capas", {"mine": "maybe"}), ("/v1/capas", {"due_before": "soon"}),
    ("/v1/capas", {"assigned": "2"}), ("/v1/capas", {"due_before": "0001-01-01"}),
    ("/v1/actions", {"open": "x"}), ("/v1/actions", {"owner": "qa\u200blead"}),
    ("/v1/actions", {"cursor": "not-a-cursor"}), ("/v1/actions", {"limit": "100000"}),
])
async def test_bad_queue_parameters_are_422(capas: Capas, path: str,
                                            params: dict[str, str]) -> None:
    answer = await capas.client.get(path, params=params, headers=capas.as_("reporter"))
    assert answer.status_code == 422, answer.text
