"""The monthly lessons-learned bulletin: e-mailed once to the subscribers of the
``lessons.bulletin`` kind (a real SMTP server) and one entry in the lessons feeds,
also with two replicas publishing at once (SQLite and PostgreSQL)."""

import asyncio
import re
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import feedparser
import pytest

from services.notifications.domain.bulletin import bulletin_month
from services.notifications.service.bulletin import BulletinReport, publish_lessons_bulletin
from shared.db import create_engine, session_factory, utcnow
from shared.events.catalog import CAPA_TOPIC
from tests.conftest import BUS_MIGRATIONS, DatabaseFactory, eventually, migrate
from tests.integration.notifications.conftest import (
    NOTIFICATIONS_MIGRATIONS,
    Harness,
    Smtp,
    harness,
    lesson_published,
)


def _first_of_next_month(moment: datetime) -> datetime:
    return (moment.replace(day=28) + timedelta(days=4)).replace(
        day=1, hour=1, minute=0, second=0, microsecond=0)


def _text(mail: EmailMessage) -> str:
    return "".join(str(part.get_content()) for part in mail.walk()
                   if part.get_content_type() == "text/plain")


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
async def test_the_month_s_lessons_go_out_once_by_mail_and_into_the_feeds(
        database: str, new_sqlite_database: DatabaseFactory,
        new_postgres_database: DatabaseFactory, api_keys: tuple[Path, dict[str, str]],
        smtp_server: Smtp) -> None:
    url = await (new_postgres_database() if database == "postgres" else new_sqlite_database())
    bus_url = await new_sqlite_database()
    await migrate(NOTIFICATIONS_MIGRATIONS, url)
    await migrate(BUS_MIGRATIONS, bus_url)
    async with harness(url, bus_url, *api_keys, smtp_port=smtp_server.port,
                       bulletin_check_interval=3600) as h:
        await h.subscribe("manager", channel="email", target="quality.team@example.com",
                          filter={"event_types": ["lessons.bulletin"]})
        await h.subscribe("manager", channel="email", target="seal.team@example.com",
                          filter={"event_types": ["capaflow.lessons.*"], "tags": ["seals"]})
        await h.subscribe("manager", channel="email", target="gauges@example.com",
                          filter={"event_types": ["lessons.bulletin"], "tags": ["gauges"]})
        await h.subscribe("manager", channel="email", target="everything@example.com")
        for title in ("Torque seals to spec", "Label <b>drift</b> & \u202eflip"):
            await h.publish(lesson_published(title), CAPA_TOPIC)

        async def consumed() -> bool:
            feed = await h.client.get("/v1/feeds/lessons.json", headers=h.auth("reporter"))
            return len(feed.json()["items"]) == 2

        await eventually(consumed, timeout=15, message="lessons consumed")
        now = _first_of_next_month(utcnow())
        _, _, month = bulletin_month(now)
        before = await _preview(h, month)
        assert before["published"] is False and before["lessons"] == 2
        assert "What to do differently: Specify torque" in before["text"]
        engines = [create_engine(url), create_engine(url)]  # two replicas' own pools
        try:
            reports = await asyncio.gather(*(
                publish_lessons_bulletin(session_factory(e), now=now) for e in engines))
        finally:
            for engine in engines:
                await engine.dispose()
        assert sorted(r.published for r in reports) == [False, True]
        assert [r.deliveries for r in reports if r.published] == [2]
        sessions = h.app.state.runtime.sessions
        assert await publish_lessons_bulletin(sessions, now=now + timedelta(hours=5)) == \
            BulletinReport(month, False, 2, 0)

        def bulletins() -> list[EmailMessage]:
            return [m for m in smtp_server.box.messages if "bulletin" in m["Subject"]]

        async def mailed() -> bool:
            return len(bulletins()) == 2

        await eventually(mailed, timeout=15, message="two bulletins mailed")
        assert sorted(m["To"] for m in bulletins()) == ["quality.team@example.com",
                                                       "seal.team@example.com"]
        mail = bulletins()[0]
        assert mail["Subject"] == f"CAPAflow lessons-learned bulletin {month}"
        body = _text(mail)
        assert "Torque seals to spec" in body and "Label <b>drift</b>" in body
        assert "Specify torque on every seal drawing" in body
        # The preview of a published month is the e-mail that went out, not sent again.
        after = await _preview(h, month)
        assert after["published"] is True
        assert after["entry_id"] == f"urn:capaflow:lessons-bulletin:{month}"
        assert after["subject"] == mail["Subject"]
        assert after["text"].replace("\r\n", "\n").strip() == \
            body.replace("\r\n", "\n").strip()
        assert "What went wrong: " in body and "Root cause: " in body
        assert len(bulletins()) == 2
        for odd in ("2026-13", "12-2026", "9999-12", "x" * 16):
            refused = await h.client.get("/v1/bulletins/preview", params={"month": odd},
                                         headers=h.auth("manager"))
            assert refused.status_code == 422, (odd, refused.text)
        # The schema states the month's form, so a schema-valid month is never refused.
        schema = (await h.client.get("/openapi.json")).json()
        [param] = schema["paths"]["/v1/bulletins/preview"]["get"]["parameters"]
        pattern = param["schema"]["pattern"]
        for odd in ("2026-13", "12-2026", "9999-12", "000000000000000", "1899-12"):
            assert not re.search(pattern, odd), odd
        assert re.search(pattern, month) and re.search(pattern, "9998-12")
        forbidden = await h.client.get("/v1/bulletins/preview", params={"month": month},
                                       headers=h.auth("reporter"))
        assert forbidden.status_code == 403
        empty = await _preview(h, "2001-01")
        assert empty["lessons"] == 0 and empty["text"] is None and empty["note"]


        atom = await h.client.get("/v1/feeds/lessons.atom", headers=h.auth("reporter"))
        parsed = feedparser.parse(atom.content)
        assert not parsed.bozo, parsed.get("bozo_exception")
        assert parsed.entries[0].title == f"CAPAflow lessons-learned bulletin {month}"
        assert "Torque seals to spec" in parsed.entries[0].content[0].value
        items = (await h.client.get("/v1/feeds/lessons.json",
                                    headers=h.auth("reporter"))).json()["items"]
        assert items[0]["id"] == f"urn:capaflow:lessons-bulletin:{month}"
        assert len(items) == 3

        # A month without lessons has no bulletin.
        later = _first_of_next_month(now + timedelta(days=1))
        assert (await publish_lessons_bulletin(sessions, now=later)).published is False
        again = await h.client.get("/v1/feeds/lessons.json", headers=h.auth("reporter"))
        assert len(again.json()["items"]) == 3


async def _preview(h: Harness, month: str) -> dict[str, Any]:
    response = await h.client.get("/v1/bulletins/preview", params={"month": month},
                                  headers=h.auth("manager"))
    assert response.status_code == 200, response.text
    return dict(response.json())
