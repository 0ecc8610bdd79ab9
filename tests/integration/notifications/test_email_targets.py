"""Whom the service may e-mail (SQLite and PostgreSQL): a person subscribes their
own address only — the one their watches use — and a manager or admin any
address; otherwise anyone could make CAPAflow mail CAPA details to a stranger."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BUS_MIGRATIONS, DatabaseFactory, migrate
from tests.integration.notifications.conftest import NOTIFICATIONS_MIGRATIONS, Harness, harness

DOMAIN = "corp.example"
STRANGER = "victim@stranger.example"
FILTER = {"capa_id": "0b0e7c1e-4c2a-4a59-9a51-8e1b1b4f0a10"}


@pytest.fixture(params=["sqlite", "postgres"])
async def h(request: pytest.FixtureRequest, new_sqlite_database: DatabaseFactory,
            new_postgres_database: DatabaseFactory,
            api_keys: tuple[Path, dict[str, str]]) -> AsyncIterator[Harness]:
    url = await (new_sqlite_database if request.param == "sqlite" else new_postgres_database)()
    bus_url = await new_sqlite_database()
    await migrate(NOTIFICATIONS_MIGRATIONS, url)
    await migrate(BUS_MIGRATIONS, bus_url)
    async with harness(url, bus_url, *api_keys, owner_email_domain=DOMAIN,
                       owner_notices=False) as h:
        yield h


async def _create(h: Harness, role: str, target: str) -> Any:
    return await h.client.post("/v1/subscriptions", headers=h.auth(role), json={
        "channel": "email", "target": target, "filter": FILTER})


async def _targets(h: Harness) -> list[str]:
    listed = await h.client.get("/v1/subscriptions", headers=h.auth("manager"))
    return sorted(s["target"] for s in listed.json()["items"])


@pytest.mark.parametrize("role", ["reporter", "engineer", "verifier"])
async def test_a_person_may_email_only_their_own_address(h: Harness, role: str) -> None:
    refused = await _create(h, role, STRANGER)
    assert refused.status_code == 403, refused.text
    problem = refused.json()
    assert problem["title"] == "Not your e-mail address" and problem["field"] == "target"
    assert f"test-{role}@{DOMAIN}" in problem["detail"]
    assert await _targets(h) == []
    # Their own address, however it is capitalised, as their watches would use it.
    own = await _create(h, role, f"Test-{role.title()}@{DOMAIN.upper()}")
    assert own.status_code == 201, own.text

    # Changing the target to a stranger's later is refused the same way; the
    # subscription keeps its address.
    path = f"/v1/subscriptions/{own.json()['id']}"
    moved = await h.client.patch(path, json={"target": STRANGER}, headers=h.auth(role))
    assert moved.status_code == 403 and moved.json()["field"] == "target", moved.text
    kept = await h.client.get(path, headers=h.auth(role))
    assert kept.json()["target"] == f"Test-{role.title()}@{DOMAIN.upper()}"
    back = await h.client.patch(path, json={"target": f"test-{role}@{DOMAIN}",
                                            "description": "mine"}, headers=h.auth(role))
    assert back.status_code == 200, back.text


@pytest.mark.parametrize("role", ["manager", "admin"])
async def test_a_manager_or_admin_may_email_any_address(h: Harness, role: str) -> None:
    created = await _create(h, role, "quality.team@example.com")
    assert created.status_code == 201, created.text
    moved = await h.client.patch(f"/v1/subscriptions/{created.json()['id']}",
                                 json={"target": STRANGER}, headers=h.auth(role))
    assert moved.status_code == 200 and moved.json()["target"] == STRANGER, moved.text
    # ... also for someone else, who may then not move it to another stranger.
    for_erin = await h.client.post("/v1/subscriptions", headers=h.auth(role), json={
        "channel": "email", "target": "qa-list@example.com", "owner": "test-engineer"})
    assert for_erin.status_code == 201, for_erin.text
    path = f"/v1/subscriptions/{for_erin.json()['id']}"
    assert (await h.client.patch(path, json={"target": STRANGER},
                                 headers=h.auth("engineer"))).status_code == 403
    assert (await h.client.patch(path, json={"active": False},
                                 headers=h.auth("engineer"))).status_code == 200


async def test_webhooks_name_no_person_and_stay_open_to_everyone(h: Harness) -> None:
    hook = await h.client.post("/v1/subscriptions", headers=h.auth("reporter"), json={
        "channel": "webhook", "target": "http://127.0.0.1:9/hook"})
    assert hook.status_code == 201, hook.text
