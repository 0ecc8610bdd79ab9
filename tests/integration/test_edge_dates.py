"""Every time and date a client gives, at the edges of the calendar, is a 422
naming the accepted range (a hand-made cursor is a 422 for its pattern) —
never a 500 — on SQLite and on PostgreSQL. Python's datetime cannot convert
9999-12-31T23:59:59-14:00 or 0001-01-01T00:00:00+14:00 to UTC; the API accepts
1900..9998 as written (shared/inputs.py).
"""

import base64
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.capa.app import create_app as create_capa_app
from services.capa.settings import CapaSettings
from shared.inputs import OUT_OF_RANGE
from tests.conftest import BUS_MIGRATIONS, SERVICE_MIGRATIONS, DatabaseFactory, migrate, running
from tests.integration.nonconformity.conftest import NcService, start_nc_service
from tests.integration.notifications.conftest import NOTIFICATIONS_MIGRATIONS, Harness, harness

# Times no UTC conversion can hold, and times outside 1900..9998 that can.
OVERFLOWING = ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"]
OUT_OF_RANGE_TIMES = ["9999-06-01T00:00:00Z", "1899-12-31T23:59:59Z", "0001-01-01T00:00:00Z"]
EDGE_TIMES = OVERFLOWING + OUT_OF_RANGE_TIMES
EDGE_DAYS = ["0001-01-01", "1899-12-31", "9999-01-01", "9999-12-31",
             "0001-01-01T00:00:00+14:00"]

DATABASES = ["sqlite", "postgres"]


def cursor_at(moment: str) -> str:
    raw = json.dumps([moment, str(uuid.uuid4())]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def assert_refused_for_range(response: httpx.Response, field: str) -> None:
    assert response.status_code == 422, (field, response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    errors = response.json()["errors"]
    assert any(e["field"].endswith(field) and OUT_OF_RANGE in e["message"] for e in errors), errors


def assert_invalid_cursor(response: httpx.Response) -> None:
    # Cursors are "<microseconds since 1970>.<id>" (shared/http/pagination.py):
    # a time outside what 16 digits hold cannot even be written as one.
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["query.cursor"]


async def _database(kind: str, new_sqlite_database: DatabaseFactory,
                    new_postgres_database: DatabaseFactory) -> str:
    return await (new_sqlite_database if kind == "sqlite" else new_postgres_database)()


@pytest.fixture(params=DATABASES)
async def nc(request: pytest.FixtureRequest, new_sqlite_database: DatabaseFactory,
             new_postgres_database: DatabaseFactory,
             api_keys: tuple[Path, dict[str, str]]) -> AsyncIterator[NcService]:
    bus_url = await new_sqlite_database()
    await migrate(BUS_MIGRATIONS, bus_url)
    url = await _database(request.param, new_sqlite_database, new_postgres_database)
    async for service in start_nc_service(url, bus_url, *api_keys):
        yield service


@pytest.fixture(params=DATABASES)
async def capa(request: pytest.FixtureRequest, new_sqlite_database: DatabaseFactory,
               new_postgres_database: DatabaseFactory,
               api_keys: tuple[Path, dict[str, str]]) -> AsyncIterator[tuple[httpx.AsyncClient,
                                                                             dict[str, str]]]:
    keys_path, keys = api_keys
    url = await _database(request.param, new_sqlite_database, new_postgres_database)
    bus_url = await new_sqlite_database()
    await migrate(SERVICE_MIGRATIONS, url)
    await migrate(BUS_MIGRATIONS, bus_url)
    settings = CapaSettings(database_url=url, bus="sql", bus_database_url=bus_url,
                            credentials_file=str(keys_path), log_json=False)
    async with running(create_capa_app(settings)) as client:
        yield client, keys


@pytest.fixture(params=DATABASES)
async def notifications(request: pytest.FixtureRequest, new_sqlite_database: DatabaseFactory,
                        new_postgres_database: DatabaseFactory,
                        api_keys: tuple[Path, dict[str, str]]) -> AsyncIterator[Harness]:
    url = await _database(request.param, new_sqlite_database, new_postgres_database)
    bus_url = await new_sqlite_database()
    await migrate(NOTIFICATIONS_MIGRATIONS, url)
    await migrate(BUS_MIGRATIONS, bus_url)
    async with harness(url, bus_url, *api_keys) as h:
        yield h


async def test_nonconformity_times_at_the_edges_are_422(nc: NcService) -> None:
    for moment in EDGE_TIMES:
        for name in ("since", "until"):
            response = await nc.client.get("/v1/nonconformities", params={name: moment},
                                           headers=nc.auth("engineer"))
            assert_refused_for_range(response, f"query.{name}")
        assert_refused_for_range(await nc.report(occurred_at=moment), "body.occurred_at")
        assert_invalid_cursor(await nc.client.get(
            "/v1/nonconformities", params={"cursor": cursor_at(moment)},
            headers=nc.auth("engineer")))
    # A date-only or zone-less cursor time is not one the API gave out either.
    assert_invalid_cursor(await nc.client.get(
        "/v1/nonconformities", params={"cursor": cursor_at("9999-12-31")},
        headers=nc.auth("engineer")))


async def test_nonconformity_times_inside_the_range_still_work(nc: NcService) -> None:
    reported = await nc.report(occurred_at="1900-01-01T00:00:00Z")
    assert reported.status_code == 201, reported.text
    listed = await nc.client.get(
        "/v1/nonconformities", headers=nc.auth("engineer"),
        params={"since": "1900-01-01T00:00:00Z", "until": "9998-12-31T23:59:59Z"})
    assert listed.status_code == 200, listed.text
    assert [i["id"] for i in listed.json()["items"]] == [reported.json()["id"]]
    # The range is on the written day, as the OpenAPI pattern states it: the
    # first moment of 1900 at +14:00 (1899 in UTC) is in, the last of 1899 at
    # -05:00 (1900 in UTC) is out.
    first = await nc.report(occurred_at="1900-01-01T00:00:00+14:00")
    assert first.status_code == 201, first.text
    assert first.json()["occurred_at"].startswith("1899-12-31T10:00:00")
    too_early = await nc.report(occurred_at="1899-12-31T23:00:00-05:00")
    assert_refused_for_range(too_early, "body.occurred_at")


async def test_capa_times_and_dates_at_the_edges_are_422(
        capa: tuple[httpx.AsyncClient, dict[str, str]]) -> None:
    client, keys = capa
    manager = {"Authorization": f"Bearer {keys['manager']}"}
    engineer = {"Authorization": f"Bearer {keys['engineer']}"}
    opened = await client.post("/v1/capas", json={"title": "Seal leak", "severity": "major"},
                               headers=engineer)
    assert opened.status_code == 201, opened.text
    capa_id = opened.json()["id"]
    for moment in EDGE_TIMES:
        for path, name in (("/v1/capas", "opened_since"), ("/v1/capas", "opened_until"),
                           ("/v1/management-review", "since"),
                           ("/v1/management-review", "until"),
                           ("/v1/reports/summary", "since")):
            response = await client.get(path, params={name: moment}, headers=manager)
            assert_refused_for_range(response, f"query.{name}")
        assert_invalid_cursor(await client.get("/v1/capas", headers=manager,
                                               params={"cursor": cursor_at(moment)}))
    for day in EDGE_DAYS:
        bodies: list[tuple[str, str, dict[str, Any], dict[str, str]]] = [
            ("POST", "/v1/capas", {"title": "Seal leak", "severity": "major", "due_date": day},
             engineer),
            ("POST", f"/v1/capas/{capa_id}/actions",
             {"kind": "corrective", "description": "New gasket spec", "owner": "ann",
              "due_date": day}, engineer),
            ("PUT", f"/v1/capas/{capa_id}/effectiveness-plan",
             {"criteria": "No leak for 30 days", "check_date": day}, engineer),
        ]
        for method, path, body, headers in bodies:
            response = await client.request(method, path, json=body, headers=headers)
            assert_refused_for_range(response, next(k for k in body if k.endswith("date")))
        response = await client.patch(f"/v1/capas/{capa_id}", json={"due_date": day},
                                      headers=engineer | {"If-Match": opened.headers["etag"]})
        assert_refused_for_range(response, "body.due_date")


async def test_capa_dates_inside_the_range_still_work(
        capa: tuple[httpx.AsyncClient, dict[str, str]]) -> None:
    client, keys = capa
    engineer = {"Authorization": f"Bearer {keys['engineer']}"}
    for day in ("1900-01-01", "9998-12-31"):
        opened = await client.post("/v1/capas", headers=engineer,
                                   json={"title": "Seal leak", "severity": "major",
                                         "due_date": day})
        assert opened.status_code == 201, opened.text
        assert opened.json()["due_date"] == day
    review = await client.get("/v1/management-review", headers=engineer,
                              params={"since": "1900-01-01T00:00:00Z",
                                      "until": "9998-12-31T23:59:59Z"})
    assert review.status_code == 200, review.text


async def test_notification_cursors_at_the_edges_are_422(notifications: Harness) -> None:
    for moment in [*EDGE_TIMES, "9999-12-31"]:
        for path in ("/v1/subscriptions", "/v1/deliveries"):
            response = await notifications.client.get(path, params={"cursor": cursor_at(moment)},
                                                      headers=notifications.auth("manager"))
            assert_invalid_cursor(response)


async def test_numbers_are_no_times(nc: NcService) -> None:
    """pydantic reads a number, or a string of one, as seconds (or milliseconds)
    since 1970: "-1" became 1969-12-31. The API takes ISO 8601 only."""
    for number in ("-1", "-62135596800", "0", "1.5", "+1700000000", " 1700000000", 0, -1):
        r = await nc.report(occurred_at=number)
        assert r.status_code == 422, (number, r.text)
        assert any(e["field"] == "body.occurred_at" for e in r.json()["errors"]), r.text
        listed = await nc.client.get("/v1/nonconformities", params={"since": str(number)},
                                     headers=nc.auth("engineer"))
        assert listed.status_code == 422, (number, listed.text)
