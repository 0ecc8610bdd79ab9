"""Watching one CAPA or NC: idempotent per person, their own only, e-mailed at the
address of their sign-in (SQLite and PostgreSQL), with the unwatch hint in the
e-mail at the SMTP test server."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlmodel import select

from services.notifications.domain.watches import Record, Watch
from services.notifications.models import ReceivedEvent
from services.notifications.schemas import WatchRequest
from services.notifications.service import watches
from services.notifications.service.digests import run_digests
from shared.auth import Principal
from shared.db import utcnow
from shared.events.base import CAPA_TOPIC, NONCONFORMITY_TOPIC, Severity
from shared.events.capa import CapaOpened, CapaStatusChanged
from shared.events.envelope import new_event
from tests.conftest import BUS_MIGRATIONS, DatabaseFactory, eventually, migrate
from tests.integration.notifications.conftest import (
    NOTIFICATIONS_MIGRATIONS,
    Harness,
    Smtp,
    harness,
    nc_reported,
)

UI = "https://qms.example"
DOMAIN = "corp.example"


@pytest.fixture(params=["sqlite", "postgres"])
async def h(request: pytest.FixtureRequest, new_sqlite_database: DatabaseFactory,
            new_postgres_database: DatabaseFactory, api_keys: tuple[Path, dict[str, str]],
            smtp_server: Smtp) -> AsyncIterator[Harness]:
    url = await (new_sqlite_database if request.param == "sqlite" else new_postgres_database)()
    bus_url = await new_sqlite_database()
    await migrate(NOTIFICATIONS_MIGRATIONS, url)
    await migrate(BUS_MIGRATIONS, bus_url)
    async with harness(url, bus_url, *api_keys, smtp_port=smtp_server.port,
                       owner_email_domain=DOMAIN, ui_base_url=UI, owner_notices=False) as h:
        yield h


def _path(capa_id: uuid.UUID, record: str = "capas") -> str:
    return f"/v1/watches/{record}/{capa_id}"


async def test_watching_twice_is_one_watch_and_unwatching_deletes_it(h: Harness) -> None:
    capa_id = uuid.uuid4()
    first = await h.client.put(_path(capa_id), json={"label": "CAPA-2026-00012 Seal leak"},
                               headers=h.auth("reporter"))
    assert first.status_code == 201, first.text
    watch = first.json()
    assert watch["owner"] == "test-reporter"
    assert watch["channel"] == "email" and watch["target"] == f"test-reporter@{DOMAIN}"
    assert watch["watch"] == {"record": "capa", "record_id": str(capa_id)}
    assert watch["filter"]["capa_id"] == str(capa_id) and watch["mode"] == "immediate"
    assert watch["description"] == "CAPA-2026-00012 Seal leak"

    again = await h.client.put(_path(capa_id), headers=h.auth("reporter"))
    assert again.status_code == 200 and again.json()["id"] == watch["id"]
    daily = await h.client.put(_path(capa_id), json={"mode": "daily"}, headers=h.auth("reporter"))
    assert daily.status_code == 200 and daily.json()["mode"] == "daily"
    listed = (await h.client.get("/v1/subscriptions", headers=h.auth("reporter"))).json()
    assert [s["id"] for s in listed["items"]] == [watch["id"]]
    assert (await h.client.get(_path(capa_id), headers=h.auth("reporter"))).json()["id"] \
        == watch["id"]

    gone = await h.client.delete(_path(capa_id), headers=h.auth("reporter"))
    assert gone.status_code == 204
    assert (await h.client.get(_path(capa_id), headers=h.auth("reporter"))).status_code == 404
    assert (await h.client.get(f"/v1/subscriptions/{watch['id']}",
                               headers=h.auth("reporter"))).status_code == 404
    # Unwatching what you do not watch: the same outcome, no error.
    assert (await h.client.delete(_path(capa_id), headers=h.auth("reporter"))).status_code == 204


async def test_concurrent_watches_of_one_record_are_one_subscription(h: Harness) -> None:
    capa_id = uuid.uuid4()
    answers = await asyncio.gather(*(h.client.put(_path(capa_id), headers=h.auth("engineer"))
                                     for _ in range(5)))
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 200, 201], \
        [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1


async def test_a_watch_is_its_owners_own(h: Harness) -> None:
    capa_id = uuid.uuid4()
    mine = (await h.client.put(_path(capa_id), headers=h.auth("reporter"))).json()
    theirs = await h.client.put(_path(capa_id), headers=h.auth("engineer"))
    assert theirs.status_code == 201 and theirs.json()["id"] != mine["id"]
    # The engineer neither sees nor changes nor deletes the reporter's watch...
    sub = f"/v1/subscriptions/{mine['id']}"
    engineer = h.auth("engineer")
    assert (await h.client.get(sub, headers=engineer)).status_code == 404
    assert (await h.client.patch(sub, json={"mode": "daily"}, headers=engineer)).status_code == 404
    assert (await h.client.delete(sub, headers=engineer)).status_code == 404
    listed = (await h.client.get("/v1/subscriptions", headers=engineer)).json()["items"]
    assert [s["id"] for s in listed] == [theirs.json()["id"]]
    # ...and unwatching removes only the engineer's own.
    assert (await h.client.delete(_path(capa_id), headers=engineer)).status_code == 204
    assert (await h.client.get(_path(capa_id), headers=h.auth("reporter"))).status_code == 200
    # Nobody watches for someone else: there is no owner or address to send.
    for body in ({"owner": "test-engineer"}, {"target": "stranger@example.com"}):
        refused = await h.client.put(_path(uuid.uuid4()), json=body, headers=h.auth("manager"))
        assert refused.status_code == 422, refused.text
    # Monitoring-source tokens are no person.
    assert (await h.client.put(_path(uuid.uuid4()),
                               headers=h.auth("source:grafana"))).status_code == 403


async def test_a_watch_keeps_its_address_and_filter(h: Harness) -> None:
    watch = (await h.client.put(_path(uuid.uuid4(), "nonconformities"),
                                headers=h.auth("verifier"))).json()
    assert watch["watch"]["record"] == "nonconformity"
    sub = f"/v1/subscriptions/{watch['id']}"
    for change in ({"target": "stranger@example.com"}, {"filter": {}}):
        refused = await h.client.patch(sub, json=change, headers=h.auth("verifier"))
        assert refused.status_code == 409, refused.text
    paused = await h.client.patch(sub, json={"active": False}, headers=h.auth("verifier"))
    assert paused.status_code == 200 and paused.json()["active"] is False
    # Watching again resumes it.
    again = await h.client.put(_path(uuid.UUID(watch["watch"]["record_id"]), "nonconformities"),
                               headers=h.auth("verifier"))
    assert again.status_code == 200 and again.json()["active"] is True


async def test_bad_record_words_and_ids_are_4xx(h: Harness) -> None:
    for path in ("/v1/watches/lessons/" + str(uuid.uuid4()), "/v1/watches/capas/CAPA-12"):
        assert (await h.client.put(path, headers=h.auth("reporter"))).status_code == 422
    bad_mode = await h.client.put(_path(uuid.uuid4()), json={"mode": "hourly"},
                                  headers=h.auth("reporter"))
    assert bad_mode.status_code == 422


async def test_the_address_is_the_sign_ins_email_claim(h: Harness) -> None:
    """A person signed in at the provider is written to at the token's e-mail claim."""
    sessions = h.app.state.runtime.sessions
    ann = Principal(subject="ann-4711", roles=frozenset({"engineer"}), email="ann@corp.example",
                    method="oidc")
    watch = Watch(Record.capa, uuid.uuid4())
    sub, created = await watches.watch(sessions, principal=ann, watch=watch,
                                       request=WatchRequest(), settings=h.settings)
    assert created and sub.target == "ann@corp.example" and sub.owner == "ann-4711"
    # A new address at the provider: watching again follows it.
    moved = Principal(subject="ann-4711", roles=ann.roles, email="ann.b@corp.example")
    sub, created = await watches.watch(sessions, principal=moved, watch=watch,
                                       request=WatchRequest(), settings=h.settings)
    assert not created and sub.target == "ann.b@corp.example"


async def test_without_an_address_the_refusal_says_so(
        new_sqlite_database: DatabaseFactory, api_keys: tuple[Path, dict[str, str]]) -> None:
    url, bus_url = await new_sqlite_database(), await new_sqlite_database()
    await migrate(NOTIFICATIONS_MIGRATIONS, url)
    await migrate(BUS_MIGRATIONS, bus_url)
    async with harness(url, bus_url, *api_keys) as h:  # no owner e-mail domain
        refused = await h.client.put(_path(uuid.uuid4()), headers=h.auth("engineer"))
        assert refused.status_code == 409, refused.text
        problem = refused.json()
        assert problem["type"] == watches.NO_EMAIL
        assert "no e-mail address" in problem["detail"]
        assert (await h.client.get("/v1/subscriptions",
                                   headers=h.auth("engineer"))).json()["items"] == []


def _text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


async def test_watchers_get_the_records_events_by_email_with_an_unwatch_hint(
        h: Harness, smtp_server: Smtp) -> None:
    capa_id, other, nc_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    assert (await h.client.put(_path(capa_id), headers=h.auth("engineer"))).status_code == 201
    assert (await h.client.put(_path(nc_id, "nonconformities"),
                               headers=h.auth("verifier"))).status_code == 201
    for target in (capa_id, other):
        await h.publish(new_event(service="capa", data=CapaStatusChanged(
            capa_id=target, number="CAPA-2026-00042", owner="carla", from_status="open",
            to_status="investigating", changed_by="carla", changed_at=utcnow(),
            title="Seal leak on pump P-7")), CAPA_TOPIC)
    await h.publish(nc_reported(nc_id=nc_id), NONCONFORMITY_TOPIC)
    # A CAPA opened from the watched NC: its watcher hears of it (the payload names the NC).
    await h.publish(new_event(service="capa", data=CapaOpened(
        capa_id=other, number="CAPA-2026-00043", title="Label misprint", nonconformity_id=nc_id,
        severity=Severity.minor, opened_at=utcnow())), CAPA_TOPIC)

    def to(address: str) -> list[EmailMessage]:
        return [m for m in smtp_server.box.messages if m["To"] == address]

    async def arrived() -> bool:
        return len(to(f"test-engineer@{DOMAIN}")) == 1 and len(to(f"test-verifier@{DOMAIN}")) == 2
    await eventually(arrived, timeout=15, message="the watchers' e-mails")
    mail = to(f"test-engineer@{DOMAIN}")[0]
    body = _text(mail)
    # The event carries the CAPA's title: the watcher reads which CAPA moved.
    assert mail["Subject"] == "CAPA status changed: CAPA-2026-00042 — Seal leak on pump P-7"
    assert f"Open: {UI}/capas/{capa_id}" in body
    assert f"open {UI}/capas/{capa_id} and choose Unwatch" in body
    assert f"{UI}/my/notifications" in body
    nc_mails = {m["Subject"].split(":")[0] for m in to(f"test-verifier@{DOMAIN}")}
    assert nc_mails == {"Nonconformity reported", "CAPA opened"}
    assert all(f"{UI}/nonconformities/{nc_id} and choose Unwatch" in _text(m)
               for m in to(f"test-verifier@{DOMAIN}"))
    # Nothing of the other CAPA reached the engineer: one e-mail, about theirs.
    assert len(smtp_server.box.messages) == 3


async def test_a_daily_watch_digest_is_about_its_record_only(
        h: Harness, smtp_server: Smtp) -> None:
    watched, other, quiet = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    for capa_id, role in ((watched, "engineer"), (quiet, "verifier")):
        answer = await h.client.put(_path(capa_id), json={"mode": "daily"},
                                    headers=h.auth(role))
        assert answer.status_code == 201, answer.text
    for capa_id, title in ((watched, "Seal leak on pump P-7"), (other, "Burr on housing")):
        await h.publish(new_event(service="capa", data=CapaOpened(
            capa_id=capa_id, number="CAPA-2026-00050", title=title, severity=Severity.major,
            opened_at=utcnow())), CAPA_TOPIC)
    sessions = h.app.state.runtime.sessions

    async def consumed() -> bool:
        async with sessions() as session:
            rows = (await session.exec(select(ReceivedEvent.event_id))).all()
        return len(rows) == 2
    await eventually(consumed, timeout=15, message="events consumed")

    tomorrow = (utcnow() + timedelta(days=1)).replace(hour=0, minute=30)
    # One digest: the engineer's; the verifier's CAPA had no event that day.
    assert await run_digests(sessions, now=tomorrow) == 1

    async def mailed() -> bool:
        return len(smtp_server.box.messages) == 1
    await eventually(mailed, timeout=15, message="the digest e-mail")
    [digest] = smtp_server.box.messages
    assert digest["To"] == f"test-engineer@{DOMAIN}"
    text = _text(digest)
    assert "Seal leak on pump P-7" in text and "Burr on housing" not in text
    assert f"open {UI}/capas/{watched} and choose Unwatch" in text
