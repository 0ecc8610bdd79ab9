"""Reminders e-mailed to their owner at the SMTP test server, once each; subscribers
hear of them like of any other event."""

import uuid
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from cloudevents.core.v1.event import CloudEvent

from shared.db import utcnow
from shared.events.base import CAPA_TOPIC, Severity
from shared.events.capa import CapaActionDueSoon, CapaEffectivenessCheckDue, CapaStatusChanged
from shared.events.envelope import new_event
from tests.conftest import BUS_MIGRATIONS, DatabaseFactory, eventually, migrate
from tests.integration.notifications.conftest import (
    NOTIFICATIONS_MIGRATIONS,
    Harness,
    Receiver,
    Smtp,
    harness,
)


def _action_due(capa_id: uuid.UUID, *, action_owner: str) -> CloudEvent:
    today = utcnow().date()
    return new_event(service="capa", data=CapaActionDueSoon(
        capa_id=capa_id, number="CAPA-2026-00042", severity=Severity.major, owner="carla",
        action_id=uuid.uuid4(), kind="corrective", description="Release gasket spec rev C",
        action_owner=action_owner, due_date=today + timedelta(days=2), days_left=2,
        reminded_at=utcnow()))


def _check_due(capa_id: uuid.UUID, *, owner: str) -> CloudEvent:
    return new_event(service="capa", data=CapaEffectivenessCheckDue(
        capa_id=capa_id, number="CAPA-2026-00043", severity=Severity.minor, owner=owner,
        status="verifying", check_date=utcnow().date(), criteria="No leak for 30 days",
        reminded_at=utcnow()))


def _sentinel(capa_id: uuid.UUID) -> CloudEvent:
    """An event of the same CAPA after the others: once it is matched, they were too."""
    return new_event(service="capa", data=CapaStatusChanged(
        capa_id=capa_id, number="CAPA-2026-00042", owner="carla", from_status="implementing",
        to_status="verifying", changed_by="carla", changed_at=utcnow()))


async def _consumed(h: Harness, event: CloudEvent) -> None:
    async def matched() -> bool:
        return any(d["event_id"] == event.get_id()
                   for d in await h.deliveries(event_type=event.get_type()))

    await eventually(matched, timeout=15, message=f"{event.get_type()} consumed")


def _body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


@pytest.mark.requirement("cfr820-100a6", "iso13485-8.5.2-timely")
async def test_a_reminder_reaches_its_owner_once_and_subscribers_like_any_event(
        new_sqlite_database: DatabaseFactory, api_keys: tuple[Path, dict[str, str]],
        smtp_server: Smtp, receiver: Receiver) -> None:
    url, bus_url = await new_sqlite_database(), await new_sqlite_database()
    await migrate(NOTIFICATIONS_MIGRATIONS, url)
    await migrate(BUS_MIGRATIONS, bus_url)
    async with harness(url, bus_url, *api_keys, smtp_port=smtp_server.port,
                       owner_email_domain="corp.example") as h:
        await h.subscribe(target=receiver.url("/due"),
                          filter={"event_types": ["capaflow.capa.*due*"]})
        await h.subscribe(target=receiver.url("/all"), filter={})
        capa_id, other = uuid.uuid4(), uuid.uuid4()
        reminder = _action_due(capa_id, action_owner="ann")
        await h.publish(reminder, CAPA_TOPIC)
        await h.publish(reminder, CAPA_TOPIC)  # redelivered: still one e-mail
        await h.publish(_check_due(other, owner="vera@example.com"), CAPA_TOPIC)
        last = _sentinel(capa_id)
        await h.publish(last, CAPA_TOPIC)
        await _consumed(h, last)

        async def mailed() -> bool:
            return len(smtp_server.box.messages) == 2

        await eventually(mailed, timeout=15, message="both owner notices mailed")

        # Delivered, so nothing more is on its way to the mail box.
        async def delivered() -> bool:
            rows = await h.deliveries()
            return bool(rows) and all(d["status"] == "delivered" for d in rows)

        await eventually(delivered, timeout=15, message="every delivery made")
        assert len(smtp_server.box.messages) == 2
        mails = {m["To"]: m for m in smtp_server.box.messages}
        assert set(mails) == {"ann@corp.example", "vera@example.com"}
        action_mail = mails["ann@corp.example"]
        assert action_mail["Subject"] == "CAPA action due soon: CAPA-2026-00042"
        assert "Action: Release gasket spec rev C" in _body(action_mail)
        assert "(in 2 days)" in _body(action_mail)
        assert f"/v1/capas/{capa_id}" in _body(action_mail)
        check_mail = mails["vera@example.com"]
        assert "Effectiveness check planned for:" in _body(check_mail)

        due = [r.json()["type"] for r in receiver.at("/due")]
        assert sorted(due) == ["capaflow.capa.action_due_soon.v1",
                               "capaflow.capa.effectiveness_check_due.v1"]
        assert len(receiver.at("/all")) == 3

        # The owner sees the deliveries made to them; the carrier subscription is
        # the service's own, not one of theirs to list or change.
        subscriptions = await h.client.get("/v1/subscriptions", headers=h.auth("manager"))
        assert len(subscriptions.json()["items"]) == 2
        owner_rows = [d for d in await h.deliveries()
                      if d["subscription_id"] not in
                      {s["id"] for s in subscriptions.json()["items"]}]
        assert len(owner_rows) == 2
        hidden = await h.client.get(f"/v1/subscriptions/{owner_rows[0]['subscription_id']}",
                                    headers=h.auth("manager"))
        assert hidden.status_code == 404


async def test_an_owner_without_an_address_gets_no_e_mail_but_subscribers_hear(
        new_sqlite_database: DatabaseFactory, api_keys: tuple[Path, dict[str, str]],
        smtp_server: Smtp, receiver: Receiver) -> None:
    url, bus_url = await new_sqlite_database(), await new_sqlite_database()
    await migrate(NOTIFICATIONS_MIGRATIONS, url)
    await migrate(BUS_MIGRATIONS, bus_url)
    async with harness(url, bus_url, *api_keys, smtp_port=smtp_server.port) as h:
        await h.subscribe(target=receiver.url("/all"), filter={})
        capa_id = uuid.uuid4()
        await h.publish(_action_due(capa_id, action_owner="ann"), CAPA_TOPIC)
        last = _sentinel(capa_id)
        await h.publish(last, CAPA_TOPIC)
        await _consumed(h, last)
        rows = await h.deliveries()
        assert {d["event_type"] for d in rows} == {"capaflow.capa.action_due_soon.v1",
                                                   "capaflow.capa.status_changed.v1"}
        assert len(rows) == 2  # the subscriber's two; no owner notice without an address
