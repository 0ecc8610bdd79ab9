"""Someone with write access to the CAPA database but not CAPA_AUDIT_KEY cannot
hide a change in the audit trail (issue 13.4)."""

from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlmodel import col, select

from services.capa.app import create_app
from services.capa.domain.audit_chain import GENESIS, entry_hash
from services.capa.migrate import migrate
from services.capa.models import AuditEntry
from services.capa.service.common import audit_content
from shared.db import SessionFactory, transaction
from tests.conftest import DatabaseFactory, running
from tests.integration.capa.conftest import TEST_AUDIT_KEY, Capas, capa_settings


def _sessions(capas: Capas) -> SessionFactory:
    sessions: SessionFactory = capas.app.state.runtime.sessions
    return sessions


async def _verify(capas: Capas, capa_id: str) -> dict[str, Any]:
    r = await capas.client.get(f"/v1/capas/{capa_id}/audit-trail/verify",
                               headers=capas.as_("reporter"))
    assert r.status_code == 200, r.text
    return dict(r.json())


async def _worked_capa(capas: Capas) -> str:
    capa = await capas.open()
    assert (await capas.move(capa["id"], "investigating")).status_code == 200
    assert (await capas.submit_root_cause(capa["id"])).status_code == 200
    await capas.add_action(capa["id"])
    return str(capa["id"])


@pytest.mark.requirement("part11-11.10e")
async def test_an_untouched_trail_is_valid_and_its_length_checked(capas: Capas) -> None:
    capa_id = await _worked_capa(capas)
    report = await _verify(capas, capa_id)
    assert report["valid"] is True and report["head_checked"] is True
    assert report["entries"] == 4 and report["legacy_entries"] == 0


@pytest.mark.requirement("part11-11.10e", "part11-11.10a")
async def test_deleting_the_last_entries_is_detected(capas: Capas) -> None:
    capa_id = await _worked_capa(capas)
    async with transaction(_sessions(capas)) as session:
        await session.exec(text(  # type: ignore[call-overload]
            "DELETE FROM capa_audit_entries WHERE capa_id = :id AND sequence > 2"),
            params={"id": capa_id.replace("-", "")})
    report = await _verify(capas, capa_id)
    assert report["valid"] is False, report
    assert report["entries"] == 2 and report["first_broken_sequence"] == 3
    assert "removed" in report["problem"]


@pytest.mark.requirement("part11-11.10e", "part11-11.10a")
async def test_an_edit_with_every_later_hash_recomputed_is_detected(capas: Capas) -> None:
    """The attack a plain SHA-256 chain let through: edit, then re-hash the rest."""
    capa_id = await _worked_capa(capas)
    async with transaction(_sessions(capas)) as session:
        rows = list((await session.exec(
            select(AuditEntry).where(col(AuditEntry.capa_id) == UUID(capa_id))
            .order_by(col(AuditEntry.sequence)))).all())
        assert len(rows) == 4
        rows[1].actor = "mallory"
        previous = rows[0].hash
        for row in rows[1:]:
            row.previous_hash = previous
            # Plain SHA-256, as before the key: what someone without it can compute.
            row.hash = entry_hash(previous, audit_content(row))
            previous = row.hash
            session.add(row)
    report = await _verify(capas, capa_id)
    assert report["valid"] is False and report["first_broken_sequence"] == 2, report


async def test_chains_from_before_the_key_are_keyed_by_the_migration(
        new_sqlite_database: DatabaseFactory, api_keys: tuple[Path, dict[str, str]]) -> None:
    """An intact trail from before the upgrade is keyed and verifies; one already
    edited is left unkeyed, so verification still reports it."""
    keys_path, keys = api_keys
    unkeyed = await capa_settings(new_sqlite_database, keys_path, audit_key=None)
    app = create_app(unkeyed)
    async with running(app) as client:
        before = Capas(client=client, keys=keys, settings=unkeyed, app=app)
        intact = await _worked_capa(before)
        edited = await _worked_capa(before)
        report = await _verify(before, intact)
        assert report["valid"] is True and report["legacy_entries"] == 4
        assert report["head_checked"] is False
        async with transaction(_sessions(before)) as session:
            entry = (await session.exec(select(AuditEntry).where(
                col(AuditEntry.capa_id) == UUID(edited), col(AuditEntry.sequence) == 2))).one()
            entry.actor = "mallory"
            session.add(entry)
    keyed = unkeyed.model_copy(update={"audit_key": SecretStr(TEST_AUDIT_KEY)})
    # The key was set after upgrading: the operator keys those chains once, on purpose.
    await migrate(keyed, key_legacy_chains=True)  # python -m services.capa.migrate --key-...
    app = create_app(keyed)
    async with running(app) as client:
        after = Capas(client=client, keys=keys, settings=keyed, app=app)
        assert (await after.move(intact, "action_planned")).status_code == 200
        assert await _verify(after, intact) == {
            "valid": True, "entries": 5, "first_broken_sequence": None, "problem": None,
            "legacy_entries": 0, "head_checked": True}
        report = await _verify(after, edited)
        assert report["valid"] is False and report["first_broken_sequence"] == 1, report


async def test_a_stripped_and_rewritten_chain_is_not_keyed_again(capas: Capas) -> None:
    """Rewrite a keyed chain as plain SHA-256 and remove its head, then run the
    migration step again, as every `make run` and migrate Job does: it must not
    launder the edit. Nor may the explicit keying command while the database
    holds keyed entries (another CAPA's, here)."""
    untouched = await _worked_capa(capas)
    capa_id = await _worked_capa(capas)
    async with transaction(_sessions(capas)) as session:
        rows = list((await session.exec(
            select(AuditEntry).where(col(AuditEntry.capa_id) == UUID(capa_id))
            .order_by(col(AuditEntry.sequence)))).all())
        rows[1].actor = "mallory"
        previous = GENESIS
        for row in rows:
            row.previous_hash, row.scheme = previous, None
            row.hash = entry_hash(previous, audit_content(row))
            previous = row.hash
            session.add(row)
        await session.exec(text(  # type: ignore[call-overload]
            "UPDATE capas SET audit_head = NULL WHERE id = :id"),
            params={"id": capa_id.replace("-", "")})
    await migrate(capas.settings)
    report = await _verify(capas, capa_id)
    assert report["valid"] is False and report["head_checked"] is False, report
    await migrate(capas.settings, key_legacy_chains=True)
    report = await _verify(capas, capa_id)
    assert report["valid"] is False and report["head_checked"] is False, report
    assert (await _verify(capas, untouched))["valid"] is True


@pytest.mark.requirement("part11-11.10a")
async def test_a_capa_whose_whole_trail_was_removed_is_invalid(capas: Capas) -> None:
    capa_id = await _worked_capa(capas)
    async with transaction(_sessions(capas)) as session:
        await session.exec(text(  # type: ignore[call-overload]
            "DELETE FROM capa_audit_entries WHERE capa_id = :id"),
            params={"id": capa_id.replace("-", "")})
        await session.exec(text(  # type: ignore[call-overload]
            "UPDATE capas SET audit_head = NULL WHERE id = :id"),
            params={"id": capa_id.replace("-", "")})
    await migrate(capas.settings)
    report = await _verify(capas, capa_id)
    assert report["valid"] is False and report["entries"] == 0, report
    assert "removed" in report["problem"]
