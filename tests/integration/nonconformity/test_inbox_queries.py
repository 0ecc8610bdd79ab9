"""The NC list as a work queue: owner / mine / unassigned filters, the ticket
reference, totals and the sort allow-list with keyset pages, on SQLite and
PostgreSQL."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BUS_MIGRATIONS, DatabaseFactory, migrate
from tests.integration.nonconformity.conftest import NcService, start_nc_service

RANK = {"critical": 0, "major": 1, "minor": 2, "observation": 3}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def nc(request: pytest.FixtureRequest, new_sqlite_database: DatabaseFactory,
             new_postgres_database: DatabaseFactory,
             api_keys: tuple[Path, dict[str, str]]) -> AsyncIterator[NcService]:
    bus_url = await new_sqlite_database()
    await migrate(BUS_MIGRATIONS, bus_url)
    # The PostgreSQL factory is lazy: the SQLite runs never touch it.
    make = new_postgres_database if request.param == "postgres" else new_sqlite_database
    url = await make()
    async for service in start_nc_service(url, bus_url, *api_keys):
        yield service


async def _report(nc: NcService, title: str, severity: str = "minor",
                  owner: str | None = None, **fields: Any) -> dict[str, Any]:
    created = await nc.report(title=title, severity=severity, **fields)
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    if owner:
        patched = await nc.client.patch(f"/v1/nonconformities/{body['id']}",
                                        json={"owner": owner},
                                        headers=nc.auth("engineer") | {"If-Match": '"1"'})
        assert patched.status_code == 200, patched.text
        body = patched.json()
    return body


async def _list(nc: NcService, role: str = "engineer", **params: Any) -> dict[str, Any]:
    page = await nc.client.get("/v1/nonconformities", params=params, headers=nc.auth(role))
    assert page.status_code == 200, page.text
    return dict(page.json())


async def test_owner_mine_unassigned_filters_and_totals(nc: NcService) -> None:
    mine = await _report(nc, "Mine", owner="Test-Engineer")
    theirs = await _report(nc, "Theirs", owner="someone-else")
    nobody = await _report(nc, "Nobody's")

    async def ids(**params: Any) -> set[str]:
        page = await _list(nc, **params)
        assert page["total"] == len(page["items"])
        return {item["id"] for item in page["items"]}

    assert await ids(mine="true") == {mine["id"]}  # the key's subject, any case
    assert await ids(mine="false") == {theirs["id"], nobody["id"]}
    assert await ids(assigned="false") == {nobody["id"]}
    assert await ids(assigned="true") == {mine["id"], theirs["id"]}
    assert await ids(owner="SOMEONE-ELSE") == {theirs["id"]}
    assert await ids(mine="true", assigned="false") == set()
    # Another caller's "mine" is theirs, not the engineer's.
    assert {i["id"] for i in (await _list(nc, role="manager", mine="true"))["items"]} == set()
    # The total counts every page, not the page shown.
    page = await _list(nc, limit=1)
    assert (len(page["items"]), page["total"]) == (1, 3) and page["next_cursor"]


async def test_the_capa_filter_leaves_out_ncs_already_escalated(nc: NcService) -> None:
    # A critical NC escalates on report: its CAPA is requested, it is no untriaged work.
    escalated = await _report(nc, "Outage", severity="critical")
    waiting = await _report(nc, "Typo")
    assert escalated["capa_link"] == "requested" and waiting["capa_link"] == "none"

    async def ids(**params: Any) -> set[str]:
        page = await _list(nc, **params)
        assert page["total"] == len(page["items"])
        return {item["id"] for item in page["items"]}

    assert await ids(capa="none") == {waiting["id"]}
    assert await ids(capa="requested") == {escalated["id"]}
    assert await ids(capa="open") == set()
    # "My work": untriaged, nobody owns it, no CAPA asked for.
    assert await ids(status="reported", assigned="false", capa="none") == {waiting["id"]}


async def test_search_finds_the_ticket_reference_and_the_number(nc: NcService) -> None:
    ticket = await _report(nc, "Refund not sent", external_ref="ZD-9999")
    other = await _report(nc, "Other", external_ref="ZD-1234")
    for text in ("zd-9999", "ZD-9999", "9999"):
        assert [i["id"] for i in (await _list(nc, text=text))["items"]] == [ticket["id"]]
    page = await _list(nc, external_ref="ZD-1234")
    assert [i["external_ref"] for i in page["items"]] == ["ZD-1234"]
    assert [i["id"] for i in (await _list(nc, text=other["number"]))["items"]] == [other["id"]]
    # Hostile strings are text to look for, never SQL or wildcards.
    for hostile in ("%", "_", "\\", "' OR 1=1 --", "ZD-9999'; DROP TABLE nonconformities;--"):
        assert (await _list(nc, text=hostile))["total"] == 0


@pytest.mark.parametrize("sort", ["-created_at", "created_at", "-last_seen", "last_seen",
                                  "-severity", "severity"])
async def test_every_sort_pages_through_every_nc_once_in_its_order(nc: NcService,
                                                                   sort: str) -> None:
    for n, severity in enumerate(["minor", "critical", "observation", "major", "critical",
                                  "minor", "major"]):
        await _report(nc, f"NC number {n}", severity=severity)
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = await _list(nc, sort=sort, limit=2, **({"cursor": cursor} if cursor else {}))
        assert page["total"] == 7
        seen += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len({i["id"] for i in seen}) == len(seen) == 7
    field = sort.lstrip("-")
    if field == "severity":
        # Most severe first for "-severity"; newest first within one severity.
        newest = sorted(seen, key=lambda i: (i["created_at"], i["id"]), reverse=True)
        expected = sorted(newest, key=lambda i: RANK[i["severity"]],
                          reverse=not sort.startswith("-"))
    else:
        expected = sorted(seen, key=lambda i: (i[field], i["id"]), reverse=sort.startswith("-"))
    assert [i["id"] for i in seen] == [i["id"] for i in expected]


async def test_a_cursor_of_another_order_is_a_position_not_an_error(nc: NcService) -> None:
    for n in range(3):
        await _report(nc, f"NC number {n}", severity="major")
    ranked = (await _list(nc, sort="-severity", limit=1))["next_cursor"]
    timed = (await _list(nc, sort="-created_at", limit=1))["next_cursor"]
    assert ranked and ranked.count(".") == 2
    assert len((await _list(nc, sort="-created_at", cursor=ranked))["items"]) == 2
    # A time cursor stands within the first rank (critical): every major follows it.
    assert len((await _list(nc, sort="-severity", cursor=timed))["items"]) == 3


@pytest.mark.parametrize("params", [
    {"sort": "title"}, {"sort": "created_at; DROP TABLE x"}, {"sort": ""},
    {"mine": "perhaps"}, {"assigned": "2"}, {"owner": "   "}, {"owner": "x" * 256},
    {"external_ref": "a\x00b"}, {"text": "x" * 201}, {"cursor": "1.2.3.4"},
    {"capa": "maybe"}, {"capa": "NONE"},
])
async def test_bad_list_parameters_are_422(nc: NcService, params: dict[str, str]) -> None:
    answer = await nc.client.get("/v1/nonconformities", params=params,
                                 headers=nc.auth("reporter"))
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
