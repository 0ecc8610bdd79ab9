"""Audit entries say what changed (field, old -> new) on SQLite and on PostgreSQL, and
the hash chain verifies with entries written before the list existed and after."""

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from services.capa.app import create_app
from services.capa.service.common import record_change
from services.capa.settings import CapaSettings
from shared.db import SessionFactory, transaction, utcnow
from tests.conftest import BUS_MIGRATIONS, SERVICE_MIGRATIONS, DatabaseFactory, migrate, running
from tests.integration.capa.conftest import TEST_AUDIT_KEY, Capas


@pytest.fixture(params=["sqlite", "postgres"])
async def capas_on(request: pytest.FixtureRequest, new_sqlite_database: DatabaseFactory,
                   new_postgres_database: DatabaseFactory,
                   api_keys: tuple[Path, dict[str, str]]) -> AsyncIterator[Capas]:
    keys_path, keys = api_keys
    url = await (new_postgres_database if request.param == "postgres"
                 else new_sqlite_database)()
    bus_url = await new_sqlite_database()
    await migrate(SERVICE_MIGRATIONS, url)
    await migrate(BUS_MIGRATIONS, bus_url)
    settings = CapaSettings(database_url=url, bus="sql", bus_database_url=bus_url,
                            credentials_file=str(keys_path), relay_poll_interval=0.02,
                            log_json=False, audit_key=TEST_AUDIT_KEY)
    app = create_app(settings)
    async with running(app) as client:
        yield Capas(client=client, keys=keys, settings=settings, app=app)


async def _trail(capas: Capas, capa_id: str) -> list[dict[str, Any]]:
    answer = await capas.client.get(f"/v1/capas/{capa_id}/audit-trail",
                                    headers=capas.as_("reporter"))
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


async def _verify(capas: Capas, capa_id: str) -> dict[str, Any]:
    answer = await capas.client.get(f"/v1/capas/{capa_id}/audit-trail/verify",
                                    headers=capas.as_("reporter"))
    return dict(answer.json())


@pytest.mark.requirement("part11-11.10e")
async def test_patches_and_moves_list_their_changes_and_the_chain_verifies(
        capas_on: Capas) -> None:
    capa = await capas_on.open(owner=None)
    patched = await capas_on.client.patch(
        f"/v1/capas/{capa['id']}", json={"owner": "Erin", "likelihood": 4,
                                         "due_date": "2027-01-20", "reason": "hand-over"},
        headers=capas_on.as_("manager", **{"If-Match": f'"{capa["version"]}"'}))
    assert patched.status_code == 200, patched.text
    assert (await capas_on.move(capa["id"], "investigating")).status_code == 200
    assert (await capas_on.submit_root_cause(capa["id"])).status_code == 200
    trail = await _trail(capas_on, capa["id"])
    by_action = {e["action"]: e for e in trail}
    assert by_action["opened"]["changes"] == []  # a new record, not an edit
    assert by_action["updated"]["changes"] == [
        {"field": "owner", "old": None, "new": "erin"},
        {"field": "likelihood", "old": 3, "new": 4},
        {"field": "due_date", "old": capa["due_date"], "new": "2027-01-20"},
        {"field": "risk_score", "old": capa["risk_score"], "new": 16}]
    assert by_action["status_changed"]["changes"] == [
        {"field": "status", "old": "open", "new": "investigating"}]
    submitted = {c["field"] for c in by_action["root_cause_submitted"]["changes"]}
    assert {"status", "problem_statement", "whys", "root_cause", "cause_category"} <= submitted
    report = await _verify(capas_on, capa["id"])
    assert report["valid"] is True and report["entries"] == len(trail) == 4


async def test_a_reopen_records_what_it_changed_besides_the_status(capas_on: Capas) -> None:
    capa = await capas_on.open()
    await capas_on.to_verifying(capa["id"])
    assert (await capas_on.verify(capa["id"], "not_effective")).status_code == 201
    moved = await capas_on.move(capa["id"], "investigating", reason="Leaks came back")
    assert moved.status_code == 200, moved.text
    reopen = (await _trail(capas_on, capa["id"]))[-1]
    assert reopen["action"] == "status_changed" and reopen["reason"] == "Leaks came back"
    assert reopen["changes"] == [
        {"field": "status", "old": "verifying", "new": "investigating"},
        {"field": "reopen_count", "old": 0, "new": 1},
        {"field": "root_cause_status", "old": "submitted", "new": "draft"}]
    assert (await _verify(capas_on, capa["id"]))["valid"] is True


async def test_entries_of_the_old_shape_get_changes_and_verify_beside_new_ones(
        capas_on: Capas) -> None:
    """An entry as the service wrote a reopen before (the status only), then a new
    PATCH: both list their changes, and the chain over both verifies."""
    capa = await capas_on.open()
    sessions: SessionFactory = capas_on.app.state.runtime.sessions
    async with transaction(sessions) as session:
        await record_change(session, capa_id=UUID(capa["id"]), actor="test-verifier",
                            action="status_changed", at=utcnow() - timedelta(minutes=1),
                            before={"status": "verifying"}, after={"status": "investigating"},
                            reason="written the old way")
    current = await capas_on.client.get(f"/v1/capas/{capa['id']}",
                                        headers=capas_on.as_("reporter"))
    patched = await capas_on.client.patch(
        f"/v1/capas/{capa['id']}", json={"title": "Seal leak on line 3 and 4"},
        headers=capas_on.as_("engineer", **{"If-Match": current.headers["etag"]}))
    assert patched.status_code == 200, patched.text
    old, new = (await _trail(capas_on, capa["id"]))[-2:]
    assert old["changes"] == [{"field": "status", "old": "verifying", "new": "investigating"}]
    assert new["changes"] == [{"field": "title", "old": "Seal leak on line 3",
                               "new": "Seal leak on line 3 and 4"}]
    report = await _verify(capas_on, capa["id"])
    assert report["valid"] is True and report["entries"] == 3 and report["head_checked"]
