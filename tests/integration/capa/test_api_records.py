"""Overdue job, audit-trail tampering, lists, management review and NC events
(SQLite + sql bus, app in-process)."""

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlmodel import col, select

from services.capa.api.deps import clock
from services.capa.domain import CapaStatus, EffectivenessResult
from services.capa.domain.root_cause import CauseCategory
from services.capa.models import Capa, EffectivenessVerification, OutboxMessage
from services.capa.service.actions import detect_overdue
from services.notifications.service.messages import Links, describe
from shared.db import SessionFactory, transaction, utcnow
from shared.events.base import NONCONFORMITY_TOPIC, Severity
from shared.events.envelope import new_event, to_record
from shared.events.nonconformity import NonconformityEscalated, NonconformityRecurred
from tests.conftest import eventually
from tests.integration.capa.conftest import Capas


def _sessions(capas: Capas) -> SessionFactory:
    sessions: SessionFactory = capas.app.state.runtime.sessions
    return sessions


async def _outbox_types(capas: Capas) -> list[str]:
    async with _sessions(capas)() as session:
        rows = (await session.exec(select(OutboxMessage.event_type)
                                   .order_by(col(OutboxMessage.id)))).all()
    return list(rows)


@pytest.mark.requirement("iso13485-8.5.2-timely", "cfr820-100a6")
async def test_overdue_job_notifies_once_per_action_and_capa(capas: Capas) -> None:
    capa = await capas.open(due_date="2026-12-01")
    action = await capas.add_action(capa["id"], due_date="2026-12-10")
    await capas.add_action(capa["id"], due_date="2026-12-10", status="done",
                           completion_evidence="done on the spot")
    sessions = _sessions(capas)
    at = datetime(2026, 12, 5, 6, 0, tzinfo=UTC)
    first = await detect_overdue(sessions, now=at)
    assert (first.actions, first.capas) == (0, 1)
    later = datetime(2026, 12, 15, tzinfo=UTC)
    report = await detect_overdue(sessions, now=later)
    assert (report.actions, report.capas) == (1, 0)
    again = await detect_overdue(sessions, now=later + timedelta(days=3))
    assert (again.actions, again.capas) == (0, 0)
    types = await _outbox_types(capas)
    assert types.count("capaflow.capa.action_overdue.v1") == 1
    assert types.count("capaflow.capa.overdue.v1") == 1
    # A new due date can become overdue again, and is notified again.
    moved = await capas.client.patch(
        f"/v1/capas/{capa['id']}/actions/{action['id']}", json={"due_date": "2026-12-20"},
        headers=capas.as_("engineer", **{"If-Match": f'"{action["version"]}"'}))
    assert moved.status_code == 200, moved.text
    assert (await detect_overdue(sessions, now=datetime(2026, 12, 21, tzinfo=UTC))).actions == 1
    capas.app.dependency_overrides[clock] = lambda: datetime(2026, 12, 21, tzinfo=UTC)
    listed = await capas.client.get("/v1/capas", params={"overdue": "true"},
                                    headers=capas.as_("reporter"))
    assert [c["id"] for c in listed.json()["items"]] == [capa["id"]]
    actions = await capas.client.get(f"/v1/capas/{capa['id']}/actions",
                                     headers=capas.as_("reporter"))
    assert [a["overdue"] for a in actions.json()] == [True, False]


@pytest.mark.requirement("part11-11.10e", "part11-11.10a")
async def test_a_tampered_audit_entry_is_detected(capas: Capas) -> None:
    capa = await capas.open()
    await capas.move(capa["id"], "investigating", reason="start")
    await capas.submit_root_cause(capa["id"])
    url = f"/v1/capas/{capa['id']}/audit-trail/verify"
    assert (await capas.client.get(url, headers=capas.as_("reporter"))).json()["valid"]
    async with transaction(_sessions(capas)) as session:
        await session.exec(text(  # type: ignore[call-overload]
            "UPDATE capa_audit_entries SET actor = 'mallory' WHERE sequence = 2"))
    report = (await capas.client.get(url, headers=capas.as_("reporter"))).json()
    assert report["valid"] is False and report["first_broken_sequence"] == 2
    assert "altered" in report["problem"]


@pytest.mark.requirement("part11-11.10b")
async def test_list_filters_and_cursor_pagination(capas: Capas) -> None:
    ids = [(await capas.open(title=f"capa {i}", severity="minor"))["id"] for i in range(5)]
    await capas.move(ids[0], "investigating")
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await capas.client.get("/v1/capas", params=params,
                                       headers=capas.as_("reporter"))).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(ids))
    investigating = await capas.client.get("/v1/capas", params={"status": "investigating"},
                                           headers=capas.as_("reporter"))
    assert [c["id"] for c in investigating.json()["items"]] == [ids[0]]
    read = await capas.client.get(f"/v1/capas/{ids[0]}", headers=capas.as_("reporter"))
    assert read.headers["etag"] == f'"{read.json()["version"]}"'


@pytest.mark.requirement("cfr820-100a7")
async def test_management_review_on_a_seeded_data_set(capas: Capas) -> None:
    now = utcnow()
    day = timedelta(days=1)

    def capa(n: int, status: CapaStatus, opened_days_ago: int, *, closed_days_ago: int | None
             = None, reopen: int = 0, source: str = "support",
             category: CauseCategory | None = None, due_in: int = 10) -> Capa:
        return Capa(number=f"CAPA-1999-{n:05d}", title=f"seed {n}", severity=Severity.minor,
                    status=status, opened_at=now - opened_days_ago * day, updated_at=now,
                    closed_at=now - closed_days_ago * day if closed_days_ago is not None
                    else None, reopen_count=reopen, source=source, cause_category=category,
                    due_date=(now + due_in * day).date())

    rows = [
        capa(1, CapaStatus.open, 5, category=None),
        capa(2, CapaStatus.investigating, 40, source="monitoring", due_in=-3),
        capa(3, CapaStatus.implementing, 100, source="audit", category=CauseCategory.process,
             due_in=-1),
        capa(4, CapaStatus.closed, 30, closed_days_ago=20, category=CauseCategory.process),
        capa(5, CapaStatus.closed, 50, closed_days_ago=10, reopen=1, source="monitoring",
             category=CauseCategory.people),
        capa(6, CapaStatus.closed, 60, closed_days_ago=30, category=CauseCategory.process),
    ]
    async with transaction(_sessions(capas)) as session:
        for row in rows:
            session.add(row)
        for result, ago in ((EffectivenessResult.effective, 25),
                            (EffectivenessResult.not_effective, 15),
                            (EffectivenessResult.effective, 12)):
            session.add(EffectivenessVerification(capa_id=rows[4].id, cycle=0, result=result,
                                                  evidence="e", verified_by="v",
                                                  verified_at=now - ago * day))
    since = (now - 90 * day).isoformat()
    response = await capas.client.get("/v1/management-review", headers=capas.as_("manager"),
                                      params={"since": since, "until": now.isoformat()})
    assert response.status_code == 200, response.text
    figures = response.json()
    assert figures["open_by_state"] == {"open": 1, "investigating": 1, "action_planned": 0,
                                        "implementing": 1, "verifying": 0}
    assert figures["open_by_age_days"] == {"0-30": 1, "31-60": 1, "61-90": 0, "91+": 1}
    assert figures["overdue"] == 2
    assert figures["closed_in_period"] == 3
    assert figures["median_days_to_close"] == 30.0  # 10, 40 and 30 days
    assert figures["effectiveness_rate"] == round(2 / 3, 4)
    assert figures["reopen_rate"] == round(1 / 3, 4)
    # Opened within 90 days: 1, 2, 4, 5, 6 (3 is 100 days old).
    assert figures["root_cause_categories"] == [
        {"name": "process", "count": 2, "cumulative_percent": 66.7},
        {"name": "people", "count": 1, "cumulative_percent": 100.0}]
    assert [(r["name"], r["count"]) for r in figures["nonconformity_sources"]] == [
        ("support", 3), ("monitoring", 2)]
    alias = await capas.client.get("/v1/reports/summary", headers=capas.as_("manager"),
                                   params={"since": since, "until": now.isoformat()})
    assert alias.json()["closed_in_period"] == 3


@pytest.mark.requirement("iso9001-10.2.1b", "iso13485-8.5.2c")
async def test_escalated_nc_opens_one_capa_and_recurrences_link_to_it(capas: Capas) -> None:
    bus = capas.app.state.runtime.bus
    nc_id, other_nc = uuid.uuid4(), uuid.uuid4()

    def escalated(nc: uuid.UUID) -> NonconformityEscalated:
        return NonconformityEscalated(nonconformity_id=nc, number="NC-2026-00042",
                                      title="Pump vibration", severity=Severity.critical,
                                      source="monitoring", reason="severity",
                                      owner="test-engineer", escalated_at=utcnow())

    first = new_event(service="nonconformity", data=escalated(nc_id))
    second = new_event(service="nonconformity", data=escalated(nc_id))
    await bus.publish([to_record(first, NONCONFORMITY_TOPIC),
                       to_record(first, NONCONFORMITY_TOPIC),
                       to_record(second, NONCONFORMITY_TOPIC)])

    async def opened() -> list[dict[str, object]]:
        response = await capas.client.get("/v1/capas", params={"nonconformity_id": str(nc_id)},
                                          headers=capas.as_("reporter"))
        return list(response.json()["items"])

    async def has_one() -> bool:
        return len(await opened()) == 1

    await eventually(has_one, timeout=15, message="a CAPA for the escalated NC")
    [capa] = await opened()
    assert capa["severity"] == "critical" and capa["source"] == "monitoring"
    assert capa["due_date"] == (utcnow().date() + timedelta(days=30)).isoformat()

    recurred = new_event(service="nonconformity", data=NonconformityRecurred(
        nonconformity_id=other_nc, number="NC-2026-00050", title="Pump vibration again",
        severity=Severity.major, occurrence_count=2, last_seen=utcnow(),
        capa_id=uuid.UUID(str(capa["id"])), recurred_at=utcnow()))
    await bus.publish([to_record(recurred, NONCONFORMITY_TOPIC)])

    async def linked() -> bool:
        response = await capas.client.get(f"/v1/capas/{capa['id']}",
                                          headers=capas.as_("reporter"))
        return len(response.json()["nonconformity_ids"]) == 2

    await eventually(linked, timeout=15, message="the recurrence linked to the CAPA")
    # The consumer processed the later events too: still exactly one CAPA.
    all_capas = await capas.client.get("/v1/capas", headers=capas.as_("reporter"))
    assert len(all_capas.json()["items"]) == 1
    types = await _outbox_types(capas)
    assert types.count("capaflow.capa.opened.v1") == 1
    assert types.count("capaflow.capa.nonconformity_linked.v1") == 1


@pytest.mark.requirement("iso9001-10.2.2", "cfr820-100b")
async def test_a_closed_capa_emitted_its_events_through_the_outbox(capas: Capas) -> None:
    capa = await capas.open(owner="o")
    await capas.to_verifying(capa["id"])
    await capas.verify(capa["id"], result="not_effective")
    await capas.move(capa["id"], "investigating", reason="leaks again")
    await capas.submit_root_cause(capa["id"])
    assert (await capas.move(capa["id"], "action_planned")).status_code == 200
    # The reopened cycle needs an action of its own.
    action = await capas.add_action(capa["id"])
    assert (await capas.move(capa["id"], "implementing")).status_code == 200
    assert (await capas.finish_action(capa["id"], action)).status_code == 200
    assert (await capas.move(capa["id"], "verifying")).status_code == 200
    await capas.verify(capa["id"])
    closed = await capas.move(capa["id"], "closed", role="manager",
                              lesson={"what_to_do_differently": "x", "tags": ["a"]})
    assert closed.status_code == 200, closed.text
    types = await _outbox_types(capas)
    prefix = "capaflow.capa."
    assert types[0] == prefix + "opened.v1"
    assert types[-3:] == [prefix + "closed.v1", "capaflow.lesson.published.v1",
                          prefix + "status_changed.v1"]
    for kind in ("root_cause_submitted", "action_added", "action_completed",
                 "effectiveness_verified", "reopened"):
        assert prefix + f"{kind}.v1" in types, kind
    assert types.count(prefix + "status_changed.v1") == 9
    assert types.count("capaflow.lesson.published.v1") == 1
    assert types.count(prefix + "root_cause_submitted.v1") == 2

    async def relayed() -> bool:
        async with _sessions(capas)() as session:
            unsent = (await session.exec(select(OutboxMessage)
                                         .where(col(OutboxMessage.sent_at).is_(None)))).all()
        return not unsent

    await eventually(relayed, timeout=15, message="the outbox relayed")


async def test_a_status_change_names_the_capas_title_where_it_is_e_mailed(
        capas: Capas) -> None:
    """capa.status_changed carries the title as it stood at the move, and the
    notifications service's wording puts it in the e-mail's subject."""
    capa = await capas.open(title="Seal leak on line 3")
    assert (await capas.move(capa["id"], "investigating")).status_code == 200
    current = await capas.client.get(f"/v1/capas/{capa['id']}", headers=capas.as_("engineer"))
    renamed = await capas.client.patch(
        f"/v1/capas/{capa['id']}", json={"title": "Seal leak on lines 3 and 4"},
        headers=capas.as_("engineer", **{"If-Match": current.headers["etag"]}))
    assert renamed.status_code == 200, renamed.text
    assert (await capas.move(capa["id"], "cancelled", role="manager",
                             reason="Raised twice")).status_code == 200
    async with _sessions(capas)() as session:
        values = (await session.exec(select(OutboxMessage.value).where(
            col(OutboxMessage.event_type) == "capaflow.capa.status_changed.v1")
            .order_by(col(OutboxMessage.id)))).all()
    envelopes = [json.loads(v) for v in values]
    assert [e["data"]["title"] for e in envelopes] == ["Seal leak on line 3",
                                                      "Seal leak on lines 3 and 4"]
    links = Links("https://capa.example", "https://nc.example")
    message = describe(envelopes[-1], links)
    assert message.title == (f"CAPA status changed: {capa['number']} — "
                             "Seal leak on lines 3 and 4")
    assert message.lines[0].endswith("→ Cancelled")
