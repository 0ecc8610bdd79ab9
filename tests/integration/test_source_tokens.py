"""A monitoring source's token does its intake and nothing else, in every
service (issue 13.3).

The routes are walked from each app's OpenAPI document, so a route added later is covered
without editing this test.
"""

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from services.capa.app import create_app as create_capa
from tests.conftest import BUS_MIGRATIONS, DatabaseFactory, migrate, running
from tests.integration.capa.conftest import capa_settings
from tests.integration.nonconformity.conftest import start_nc_service

SOURCES = ("source:alertmanager", "source:grafana")
# The one route each source token exists for.
INTAKE = {"source:alertmanager": ("POST", "/v1/intake/alertmanager"),
          "source:grafana": ("POST", "/v1/intake/grafana")}


def _calls(app: FastAPI) -> list[tuple[str, str]]:
    # The OpenAPI document lists every route of the services (none is hidden from
    # it); FastAPI's app.routes nests included routers behind private types.
    found = []
    for template, operations in app.openapi()["paths"].items():
        # Any value for path parameters: authentication runs before they are looked up.
        path = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), template)
        found += [(method.upper(), path) for method in operations
                  if method in ("get", "post", "put", "patch", "delete")]
    return found


async def _send(client: httpx.AsyncClient, method: str, path: str,
                headers: dict[str, str]) -> httpx.Response:
    # A bound wait: a stream answered 200 by mistake would otherwise never end.
    async def call() -> httpx.Response:
        async with client.stream(method, path, headers=headers, json={}) as response:
            return response
    return await asyncio.wait_for(call(), timeout=10)


async def _check(client: httpx.AsyncClient, app: FastAPI, tokens: dict[str, str],
                 service: str) -> None:
    calls = _calls(app)
    authenticated = [c for c in calls
                     if (await _send(client, *c, headers={})).status_code == 401]
    assert len(authenticated) >= 5, (service, calls)
    wrong = []
    for source in SOURCES:
        headers = {"Authorization": f"Bearer {tokens[source]}"}
        for method, path in authenticated:
            status = (await _send(client, method, path, headers)).status_code
            own_intake = INTAKE[source] == (method, path)
            if own_intake != (status != 403):
                wrong.append((source, method, path, status))
    assert wrong == [], f"{service}: {wrong}"


@asynccontextmanager
async def _capa(db: DatabaseFactory, keys: Path) -> AsyncIterator[tuple[httpx.AsyncClient,
                                                                         FastAPI]]:
    app = create_capa(await capa_settings(db, keys))
    async with running(app) as client:
        yield client, app


@pytest.mark.requirement("part11-11.10h", "part11-11.10g")
async def test_source_tokens_only_reach_their_intake_in_capa(
        new_sqlite_database: DatabaseFactory, api_keys: tuple[Path, dict[str, str]]) -> None:
    async with _capa(new_sqlite_database, api_keys[0]) as (client, app):
        await _check(client, app, api_keys[1], "capa")


@pytest.mark.requirement("part11-11.10h", "part11-11.10g")
async def test_source_tokens_only_reach_their_intake_in_nonconformity(
        new_sqlite_database: DatabaseFactory, api_keys: tuple[Path, dict[str, str]]) -> None:
    bus_url = await new_sqlite_database()
    await migrate(BUS_MIGRATIONS, bus_url)
    async for nc in start_nc_service(await new_sqlite_database(), bus_url, *api_keys):
        await _check(nc.client, nc.app, api_keys[1], "nonconformity")
        # The intake itself still takes its source's alerts.
        r = await nc.client.post("/v1/intake/alertmanager", headers=nc.auth(SOURCES[0]),
                                 json={"version": "4", "status": "firing", "alerts": []})
        assert r.status_code == 200, r.text


@pytest.mark.requirement("part11-11.10h", "part11-11.10g")
async def test_source_tokens_only_reach_their_intake_in_notifications(
        new_sqlite_database: DatabaseFactory, api_keys: tuple[Path, dict[str, str]]) -> None:
    from tests.integration.notifications.conftest import NOTIFICATIONS_MIGRATIONS, harness

    url, bus_url = await new_sqlite_database(), await new_sqlite_database()
    await migrate(NOTIFICATIONS_MIGRATIONS, url)
    await migrate(BUS_MIGRATIONS, bus_url)
    async with harness(url, bus_url, *api_keys) as h:
        await _check(h.client, h.app, api_keys[1], "notifications")
