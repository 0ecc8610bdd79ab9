"""Live stream (SSE over a real server), lessons feeds, e-mail and digests."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import feedparser
import httpx
import pytest
import uvicorn

from services.notifications.app import create_app
from services.notifications.service.digests import run_digests
from services.notifications.settings import NotificationsSettings
from shared.bus.sql import SqlBus
from shared.db import utcnow
from shared.events.catalog import CAPA_TOPIC, NONCONFORMITY_TOPIC, Severity
from shared.events.envelope import to_record
from tests.conftest import BUS_MIGRATIONS, DatabaseFactory, eventually, migrate
from tests.integration.notifications.conftest import (
    NOTIFICATIONS_MIGRATIONS,
    Harness,
    Smtp,
    capa_opened,
    fast_settings,
    free_port,
    harness,
    lesson_published,
    nc_reported,
)


@asynccontextmanager
async def served(settings: NotificationsSettings) -> AsyncIterator[str]:
    """The app under a real uvicorn server (SSE needs real streaming)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                                           log_level="warning"))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def read_sse(response: httpx.Response, count: int) -> list[dict[str, Any]]:
    """The next ``count`` SSE events (comments and retry hints skipped)."""
    events: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    async for line in response.aiter_lines():
        if line == "":
            if "data" in current:
                events.append(current)
                if len(events) == count:
                    return events
            current = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            current[name] = value.removeprefix(" ")
    return events


async def test_sse_sends_exactly_the_filtered_events_and_resumes_after_reconnect(
        new_sqlite_database: DatabaseFactory, api_keys: tuple[Path, dict[str, str]]) -> None:
    url, bus_url = await new_sqlite_database(), await new_sqlite_database()
    await migrate(NOTIFICATIONS_MIGRATIONS, url)
    await migrate(BUS_MIGRATIONS, bus_url)
    keys_path, tokens = api_keys
    settings = NotificationsSettings(database_url=url, bus="sql", bus_database_url=bus_url,
                                     credentials_file=str(keys_path), **fast_settings())
    bus = SqlBus(url=bus_url)
    await bus.start()
    auth = {"Authorization": f"Bearer {tokens['engineer']}"}
    params = {"type": ["capaflow.capa.*", "capaflow.nonconformity.reported.*"],
              "min_severity": "major"}
    wanted = [capa_opened(severity=Severity.critical), capa_opened(severity=Severity.major),
              nc_reported(severity=Severity.major), capa_opened(severity=Severity.major)]
    unwanted = [capa_opened(severity=Severity.minor), nc_reported(severity=Severity.minor),
                lesson_published()]
    try:
        async with served(settings) as base, httpx.AsyncClient(base_url=base,
                                                               timeout=20) as client:
            async with client.stream("GET", "/v1/stream", params=params,
                                     headers=auth) as response:
                assert response.status_code == 200
                assert response.headers["content-type"].startswith("text/event-stream")
                for event in (unwanted[0], wanted[0], unwanted[1], wanted[1]):
                    topic = NONCONFORMITY_TOPIC if "nonconformity" in event.get_type() \
                        else CAPA_TOPIC
                    await bus.publish([to_record(event, topic)])
                first = await asyncio.wait_for(read_sse(response, 2), timeout=15)
            assert [json.loads(e["data"])["id"] for e in first] == \
                [wanted[0].get_id(), wanted[1].get_id()]
            assert first[0]["event"] == "capaflow.capa.opened.v1"
            assert int(first[1]["id"]) > int(first[0]["id"])

            # Disconnected: these happen while nobody listens.
            for event, topic in ((unwanted[2], CAPA_TOPIC), (wanted[2], NONCONFORMITY_TOPIC),
                                 (wanted[3], CAPA_TOPIC)):
                await bus.publish([to_record(event, topic)])
            async with client.stream("GET", "/v1/stream", params=params,
                                     headers=auth | {"Last-Event-ID": first[1]["id"]}) as again:
                assert again.status_code == 200
                rest = await asyncio.wait_for(read_sse(again, 2), timeout=15)
            assert [json.loads(e["data"])["id"] for e in rest] == \
                [wanted[2].get_id(), wanted[3].get_id()]

            bad = await client.get("/v1/stream", headers=auth | {"Last-Event-ID": "x"})
            assert bad.status_code == 400
            huge = await client.get("/v1/stream", headers=auth | {"Last-Event-ID": "9" * 23})
            assert huge.status_code == 400
            assert bad.headers["content-type"] == "application/problem+json"
            assert (await client.get("/v1/stream")).status_code == 401
    finally:
        await bus.stop()


@pytest.mark.requirement("iso9001-10.2.1f", "cfr820-100a5")
async def test_lessons_feeds_are_valid_atom_and_json_feed(notifications: Harness) -> None:
    lessons = [lesson_published("Torque seals to spec"), lesson_published("Calibrate gauges")]
    for event in lessons:
        await notifications.publish(event, CAPA_TOPIC)
    await notifications.publish(capa_opened(), CAPA_TOPIC)

    async def both() -> bool:
        response = await notifications.client.get("/v1/feeds/lessons.json",
                                                  headers=notifications.auth("reporter"))
        return len(response.json()["items"]) == 2

    await eventually(both, timeout=15, message="two lessons in the feed")
    response = await notifications.client.get("/v1/feeds/lessons.atom",
                                              headers=notifications.auth("reporter"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    assert [e.title for e in feed.entries] == ["Calibrate gauges", "Torque seals to spec"]
    assert "<under> pressure & heat" in feed.entries[0].content[0].value
    assert feed.entries[0].tags[0].term == "seals"

    json_feed = (await notifications.client.get("/v1/feeds/lessons.json",
                                                headers=notifications.auth("reporter"))).json()
    assert json_feed["version"] == "https://jsonfeed.org/version/1.1"
    assert json_feed["items"][0]["id"] == lessons[1].get_data()["lesson_id"]  # type: ignore
    assert (await notifications.client.get("/v1/feeds/lessons.atom")).status_code == 401


def _parts(message: EmailMessage) -> dict[str, str]:
    return {part.get_content_type(): str(part.get_content())
            for part in message.walk() if not part.is_multipart()}


@pytest.mark.requirement("cfr820-100a6")
async def test_email_is_sent_with_text_and_html_parts(
        new_sqlite_database: DatabaseFactory, api_keys: tuple[Path, dict[str, str]],
        smtp_server: Smtp) -> None:
    url, bus_url = await new_sqlite_database(), await new_sqlite_database()
    await migrate(NOTIFICATIONS_MIGRATIONS, url)
    await migrate(BUS_MIGRATIONS, bus_url)
    async with harness(url, bus_url, *api_keys, smtp_port=smtp_server.port) as h:
        await h.subscribe("manager", channel="email", target="quality.manager@example.com",
                          filter={"event_types": ["capaflow.capa.opened.*"]})
        capa_id = uuid.uuid4()
        await h.publish(capa_opened(capa_id, title="Burr on <housing>"), CAPA_TOPIC)

        async def mailed() -> bool:
            return len(smtp_server.box.messages) == 1

        await eventually(mailed, timeout=15, message="e-mail received")
        [mail] = smtp_server.box.messages
        assert mail["To"] == "quality.manager@example.com"
        assert "CAPA opened" in mail["Subject"]
        parts = _parts(mail)
        assert set(parts) == {"text/plain", "text/html"}
        assert "Burr on <housing>" in parts["text/plain"]
        assert "Burr on &lt;housing&gt;" in parts["text/html"]
        assert f"/v1/capas/{capa_id}" in parts["text/html"]

        # Daily digest, with a fixed "now": tomorrow just after midnight.
        await h.subscribe("manager", channel="email", target="digest@example.com", mode="daily",
                          filter={"min_severity": "major"})
        await h.publish(nc_reported(severity=Severity.critical), NONCONFORMITY_TOPIC)
        await h.publish(lesson_published("Check the drawings"), CAPA_TOPIC)

        async def consumed() -> bool:
            response = await h.client.get("/v1/feeds/lessons.json", headers=h.auth("reporter"))
            return len(response.json()["items"]) == 1

        await eventually(consumed, timeout=15, message="events consumed")
        tomorrow = (utcnow() + timedelta(days=1)).replace(hour=0, minute=30)
        assert await run_digests(h.app.state.runtime.sessions, now=tomorrow) == 1
        assert await run_digests(h.app.state.runtime.sessions, now=tomorrow) == 0

        async def digest_mailed() -> bool:
            return any(m["To"] == "digest@example.com" for m in smtp_server.box.messages)

        await eventually(digest_mailed, timeout=15, message="digest received")
        digest = next(m for m in smtp_server.box.messages if m["To"] == "digest@example.com")
        assert "daily digest" in digest["Subject"]
        text = _parts(digest)["text/plain"]
        assert "Label misprint" in text  # the critical NC
        assert "Check the drawings" in text  # the new lesson
        assert "Burr on <housing>" in text  # an open CAPA
        assert "Burr on &lt;housing&gt;" in _parts(digest)["text/html"]
