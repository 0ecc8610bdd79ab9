"""Reminders before due dates, effectiveness on schedule (SQLite + sql bus in-process;
the replica race on SQLite and PostgreSQL)."""

import asyncio
import json
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from pydantic import SecretStr
from sqlmodel import col, select

from services.capa.app import create_app
from services.capa.models import AuditEntry, OutboxMessage, Reminder
from services.capa.service.reminders import ReminderReport, send_reminders
from services.capa.settings import CapaSettings
from shared.db import SessionFactory, create_engine, session_factory, utcnow
from tests.conftest import (
    BUS_MIGRATIONS,
    SERVICE_MIGRATIONS,
    DatabaseFactory,
    migrate,
    running,
)
from tests.integration.capa.conftest import TEST_AUDIT_KEY, Capas

DUE_SOON = "capaflow.capa.due_soon.v1"
ACTION_DUE_SOON = "capaflow.capa.action_due_soon.v1"
CHECK_DUE = "capaflow.capa.effectiveness_check_due.v1"


def _sessions(capas: Capas) -> SessionFactory:
    sessions: SessionFactory = capas.app.state.runtime.sessions
    return sessions


async def _events(sessions: SessionFactory, event_type: str) -> list[dict[str, Any]]:
    """The data of each outbox event of this type (the value is the CloudEvent JSON)."""
    async with sessions() as session:
        rows = (await session.exec(select(OutboxMessage.value)
                                   .where(col(OutboxMessage.event_type) == event_type)
                                   .order_by(col(OutboxMessage.id)))).all()
    return [dict(json.loads(value)["data"]) for value in rows]


def _at(day: date, hour: int = 6) -> datetime:
    return datetime.combine(day, time(hour), UTC)


def _report(actions: int = 0, capas: int = 0, checks: int = 0) -> ReminderReport:
    return ReminderReport(actions=actions, capas=capas, effectiveness_checks=checks)


async def _patch_action(capas: Capas, capa_id: str, action: dict[str, Any],
                        **body: Any) -> dict[str, Any]:
    moved = await capas.client.patch(
        f"/v1/capas/{capa_id}/actions/{action['id']}", json=body,
        headers=capas.as_("engineer", **{"If-Match": f'"{action["version"]}"'}))
    assert moved.status_code == 200, moved.text
    return dict(moved.json())


@pytest.mark.requirement("iso13485-8.5.2-timely")
async def test_reminders_once_per_due_date_rearmed_when_moved(capas: Capas) -> None:
    today = utcnow().date()
    day = timedelta(days=1)
    main = await capas.open(due_date=(today + 10 * day).isoformat(), owner="carla")
    soon = await capas.add_action(main["id"], due_date=(today + 3 * day).isoformat(),
                                  owner="ann")
    await capas.add_action(main["id"], due_date=(today + 3 * day).isoformat(), status="done",
                           completion_evidence="done on the spot")
    await capas.add_action(main["id"], due_date=(today + 5 * day).isoformat())
    # Verified, then closed: due tomorrow, but finished CAPAs get no reminders.
    finished = await capas.open(due_date=(today + day).isoformat())
    await capas.to_verifying(finished["id"])  # its check is planned for today
    assert (await capas.verify(finished["id"])).status_code == 201
    closed = await capas.move(finished["id"], "closed", role="manager",
                              lesson={"what_to_do_differently": "Spec the temperature"})
    assert closed.status_code == 200, closed.text
    # Verifying, its check date come, no result yet: reminded once.
    waiting = await capas.open(due_date=(today + 60 * day).isoformat(), owner="vera")
    await capas.to_verifying(waiting["id"])
    sessions = _sessions(capas)

    assert await send_reminders(sessions, now=_at(today), days=3) == _report(1, 0, 1)
    assert await send_reminders(sessions, now=_at(today, 23), days=3) == _report()
    [action_notice] = await _events(sessions, ACTION_DUE_SOON)
    assert action_notice["action_id"] == soon["id"]
    assert (action_notice["action_owner"], action_notice["owner"]) == ("ann", "carla")
    assert (action_notice["days_left"], action_notice["due_date"]) == (
        3, (today + 3 * day).isoformat())
    [check] = await _events(sessions, CHECK_DUE)
    assert (check["capa_id"], check["owner"]) == (waiting["id"], "vera")
    assert check["check_date"] == today.isoformat()

    # A due date moved later arms the reminder again (a new key); the old key stays.
    await _patch_action(capas, main["id"], soon, due_date=(today + 4 * day).isoformat())
    assert await send_reminders(sessions, now=_at(today + day), days=3) == _report(1, 0, 0)
    # The CAPA itself comes into the window a week later; its actions are overdue by then.
    assert await send_reminders(sessions, now=_at(today + 7 * day), days=3) == _report(0, 1, 0)
    assert await send_reminders(sessions, now=_at(today + 9 * day), days=3) == _report()
    [capa_notice] = await _events(sessions, DUE_SOON)
    assert (capa_notice["capa_id"], capa_notice["days_left"]) == (main["id"], 3)
    assert len(await _events(sessions, ACTION_DUE_SOON)) == 2

    async with sessions() as session:
        keys = (await session.exec(select(Reminder.kind, Reminder.due_date)
                                   .where(col(Reminder.capa_id) == UUID(main["id"])))).all()
        trail = (await session.exec(select(AuditEntry.action)
                                    .where(col(AuditEntry.capa_id) == UUID(main["id"])))).all()
    assert Counter(kind for kind, _ in keys) == {"action_due": 2, "capa_due": 1}
    assert trail.count("reminded") == 3
    verified = await capas.client.get(f"/v1/capas/{main['id']}/audit-trail/verify",
                                      headers=capas.as_("reporter"))
    assert verified.json()["valid"] is True


async def test_a_recorded_verification_ends_the_check_reminder(capas: Capas) -> None:
    today = utcnow().date()
    capa = await capas.open(due_date=(today + 60 * timedelta(days=1)).isoformat())
    await capas.to_verifying(capa["id"])
    assert (await capas.verify(capa["id"], result="not_effective")).status_code == 201
    assert (await send_reminders(_sessions(capas), now=_at(today), days=3)).effectiveness_checks \
        == 0


async def _replica_race(url: str, bus_url: str, keys_path: Path, keys: dict[str, str]) -> None:
    settings = CapaSettings(database_url=url, bus="sql", bus_database_url=bus_url,
                            credentials_file=str(keys_path), log_json=False,
                            audit_key=SecretStr(TEST_AUDIT_KEY))
    app = create_app(settings)
    today = utcnow().date()
    async with running(app) as client:
        capas = Capas(client=client, keys=keys, settings=settings, app=app)
        for i in range(4):
            capa = await capas.open(title=f"race {i}", due_date=(today + timedelta(days=2))
                                    .isoformat())
            for _ in range(3):
                await capas.add_action(capa["id"], due_date=today.isoformat())
        engines = [create_engine(url), create_engine(url)]  # two replicas' own pools
        try:
            reports = await asyncio.gather(*(
                send_reminders(session_factory(engine), now=_at(today, 12), days=3)
                for engine in engines))
        finally:
            for engine in engines:
                await engine.dispose()
        sessions = _sessions(capas)
        assert sum(r.actions for r in reports) == 12
        assert sum(r.capas for r in reports) == 4
        assert len(await _events(sessions, ACTION_DUE_SOON)) == 12
        assert len(await _events(sessions, DUE_SOON)) == 4
        assert await send_reminders(sessions, now=_at(today, 13), days=3) == _report()


async def test_two_replicas_racing_send_each_reminder_once_on_sqlite(
        new_sqlite_database: DatabaseFactory, api_keys: tuple[Path, dict[str, str]]) -> None:
    url, bus_url = await new_sqlite_database(), await new_sqlite_database()
    await migrate(SERVICE_MIGRATIONS, url)
    await migrate(BUS_MIGRATIONS, bus_url)
    await _replica_race(url, bus_url, *api_keys)


async def test_two_replicas_racing_send_each_reminder_once_on_postgres(
        new_postgres_database: DatabaseFactory, new_sqlite_database: DatabaseFactory,
        api_keys: tuple[Path, dict[str, str]]) -> None:
    url, bus_url = await new_postgres_database(), await new_sqlite_database()
    await migrate(SERVICE_MIGRATIONS, url)
    await migrate(BUS_MIGRATIONS, bus_url)
    await _replica_race(url, bus_url, *api_keys)


async def _plan(capas: Capas, capa_id: str, check_date: date,
                criteria: str = "No seal leak for 30 days") -> Any:
    return await capas.client.put(f"/v1/capas/{capa_id}/effectiveness-plan",
                                  json={"criteria": criteria,
                                        "check_date": check_date.isoformat()},
                                  headers=capas.as_("engineer"))


async def _verify(capas: Capas, capa_id: str, role: str, **extra: Any) -> Any:
    return await capas.client.post(
        f"/v1/capas/{capa_id}/effectiveness-verifications",
        json={"result": "effective", "evidence": "30 days of line data, 0 leaks"} | extra,
        headers=capas.as_(role))


@pytest.mark.requirement("iso9001-10.2.1d", "iso13485-8.5.2f", "cfr820-100a4")
async def test_verification_before_the_check_date_is_refused_unless_a_manager_overrides(
        capas: Capas) -> None:
    capa = await capas.open()
    await capas.to_verifying(capa["id"])
    later = utcnow().date() + timedelta(days=30)
    assert (await _plan(capas, capa["id"], later)).status_code == 200

    early = await _verify(capas, capa["id"], "verifier")
    assert early.status_code == 409, early.text
    problem = early.json()
    assert problem["detail"].startswith(
        f"The effectiveness check is planned for {later.isoformat()};")
    assert problem["check_date"] == later.isoformat()
    not_manager = await _verify(capas, capa["id"], "verifier", override_reason="urgent")
    assert not_manager.status_code == 403, not_manager.text
    for blank in ("", "   "):
        assert (await _verify(capas, capa["id"], "manager", override_reason=blank)
                ).status_code == 422
    too_long = await _verify(capas, capa["id"], "manager", override_reason="x" * 10_001)
    assert too_long.status_code == 422

    reason = "Line 3 is decommissioned before the check date"
    overridden = await _verify(capas, capa["id"], "manager", override_reason=reason)
    assert overridden.status_code == 201, overridden.text
    body = overridden.json()
    assert (body["override_by"], body["override_reason"], body["check_date"]) == (
        "test-manager", reason, later.isoformat())
    [event] = await _events(_sessions(capas), "capaflow.capa.effectiveness_verified.v1")
    assert (event["override_by"], event["override_reason"]) == ("test-manager", reason)
    trail = await capas.client.get(f"/v1/capas/{capa['id']}/audit-trail",
                                   headers=capas.as_("reporter"))
    [entry] = [e for e in trail.json()["items"] if e["action"] == "effectiveness_verified"]
    assert entry["reason"] == reason and entry["after"]["override_by"] == "test-manager"

    # The plan it was judged against is frozen now.
    frozen = await _plan(capas, capa["id"], later + timedelta(days=1))
    assert frozen.status_code == 409 and "frozen" in frozen.json()["detail"]


async def test_on_the_check_date_no_override_is_needed_nor_taken(capas: Capas) -> None:
    capa = await capas.open()
    await capas.to_verifying(capa["id"])  # planned for today
    refused = await _verify(capas, capa["id"], "manager", override_reason="urgent")
    assert refused.status_code == 422 and "nothing to override" in refused.json()["detail"]
    recorded = await _verify(capas, capa["id"], "verifier")
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["override_by"] is None


@pytest.mark.requirement("iso13485-8.5.2f")
async def test_the_plan_may_be_revised_for_a_new_cycle_after_a_reopen(capas: Capas) -> None:
    capa = await capas.open()
    await capas.to_verifying(capa["id"])
    assert (await capas.verify(capa["id"], result="not_effective")).status_code == 201
    assert (await _plan(capas, capa["id"], utcnow().date())).status_code == 409
    reopened = await capas.move(capa["id"], "investigating", role="verifier",
                                reason="Leaks came back")
    assert reopened.status_code == 200, reopened.text
    revised = await _plan(capas, capa["id"], utcnow().date() + timedelta(days=45),
                          criteria="No seal leak for 45 days")
    assert revised.status_code == 200, revised.text

