"""Deliveries that cannot be built or sent, and receivers that answer badly.

Every failure is a counted attempt (never a crash loop at attempts=0), and a
receiver cannot hold an attempt past the total deadline or make the worker
read more than the response cap.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from services.notifications.channels.webhook import MAX_RESPONSE_BYTES
from services.notifications.models import Subscription
from services.notifications.service.subscriptions import new_secret
from shared.db import transaction, utcnow
from shared.events.catalog import CAPA_TOPIC
from tests.conftest import BUS_MIGRATIONS, DatabaseFactory, eventually, migrate
from tests.integration.notifications.conftest import (
    NOTIFICATIONS_MIGRATIONS,
    Harness,
    Smtp,
    capa_opened,
    free_port,
    harness,
)

MakeHarness = Callable[..., AbstractAsyncContextManager[Harness]]


@pytest.fixture
def make_harness(new_sqlite_database: DatabaseFactory,
                 api_keys: tuple[Path, dict[str, str]]) -> MakeHarness:
    @asynccontextmanager
    async def make(**overrides: Any) -> AsyncIterator[Harness]:
        url, bus_url = await new_sqlite_database(), await new_sqlite_database()
        await migrate(NOTIFICATIONS_MIGRATIONS, url)
        await migrate(BUS_MIGRATIONS, bus_url)
        async with harness(url, bus_url, *api_keys, **overrides) as h:
            yield h

    return make


async def _stored_subscription(h: Harness, channel: str, target: str) -> str:
    """A subscription written before today's checks (or by hand): no API validation."""
    now = utcnow()
    sub = Subscription(owner="test-reporter", channel=channel, target=target,
                       secret=new_secret() if channel == "webhook" else None,
                       created_at=now, updated_at=now)
    async with transaction(h.app.state.runtime.sessions) as session:
        session.add(sub)
    return str(sub.id)


async def _final(h: Harness, subscription_id: str,
                 done: Callable[[dict[str, Any]], bool], message: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = []

    async def reached() -> bool:
        found[:] = await h.deliveries(subscription_id=subscription_id)
        return len(found) == 1 and done(found[0])

    await eventually(reached, timeout=20, interval=0.05, message=message)
    return found[0]


async def test_a_url_httpx_refuses_is_refused_at_creation_and_dead_letters_once(
        make_harness: MakeHarness) -> None:
    async with make_harness(allowed_networks=[]) as h:
        # getaddrinfo reads 01.01.01.01 as 1.1.1.1 (public), but httpx refuses the host.
        response = await h.client.post("/v1/subscriptions", headers=h.auth("reporter"),
                                       json={"channel": "webhook",
                                             "target": "http://01.01.01.01/x"})
        assert response.status_code == 422, response.text
        assert "not valid" in response.text
        sub = await _stored_subscription(h, "webhook", "http://01.01.01.01/x")
        await h.publish(capa_opened(), CAPA_TOPIC)
        delivery = await _final(h, sub, lambda d: d["status"] != "pending",
                                "the delivery settled")
    # No retry can make that URL valid: dead-lettered at the first attempt.
    assert (delivery["status"], delivery["attempts"]) == ("dead_lettered", 1)
    assert "not valid" in delivery["last_error"]


async def test_an_email_that_cannot_be_built_counts_its_attempts_then_dead_letters(
        make_harness: MakeHarness, smtp_server: Smtp) -> None:
    async with make_harness(smtp_port=smtp_server.port, retry_schedule=[0.05, 0.05]) as h:
        sub = await _stored_subscription(h, "email", "qa@example.com\r\nBcc: spy@example.com")
        await h.publish(capa_opened(), CAPA_TOPIC)
        delivery = await _final(h, sub, lambda d: d["status"] != "pending",
                                "the delivery settled")
    assert (delivery["status"], delivery["attempts"]) == ("dead_lettered", 3)
    assert delivery["last_error"].startswith("ValueError")
    assert smtp_server.box.messages == []


async def test_a_title_with_line_breaks_is_mailed_with_a_one_line_subject(
        make_harness: MakeHarness, smtp_server: Smtp) -> None:
    async with make_harness(smtp_port=smtp_server.port) as h:
        await h.subscribe("manager", channel="email", target="qa@example.com")
        await h.publish(capa_opened(title="Leak\r\nBcc: spy@example.com"), CAPA_TOPIC)

        async def mailed() -> bool:
            return len(smtp_server.box.messages) == 1

        await eventually(mailed, timeout=15, message="the e-mail")
    [mail] = smtp_server.box.messages
    assert mail["Subject"] == "CAPA opened: CAPA-2026-00042 — Leak Bcc: spy@example.com"
    assert mail["Bcc"] is None


# --- receivers that misbehave at the socket level -----------------------------------

@dataclass
class RawReceiver:
    """A bare TCP server answering HTTP by hand, to send what no framework would."""

    answer: Callable[[asyncio.StreamWriter, "RawReceiver"], Awaitable[None]]
    port: int = field(default_factory=free_port)
    written: int = 0  # body bytes the client took before it closed the connection
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            await reader.readexactly(length)
            await self.answer(writer, self)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client dropped the connection: what these tests wait for
        finally:
            self.closed.set()
            writer.close()


@asynccontextmanager
async def raw_receiver(answer: Callable[[asyncio.StreamWriter, RawReceiver], Awaitable[None]]
                       ) -> AsyncIterator[RawReceiver]:
    receiver = RawReceiver(answer)
    server = await asyncio.start_server(receiver._serve, "127.0.0.1", receiver.port)
    try:
        yield receiver
    finally:
        server.close()


HUGE = 64 * 1024 * 1024


async def _huge_body(writer: asyncio.StreamWriter, state: RawReceiver) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % HUGE)
    chunk = b"x" * 65536
    while state.written < HUGE:
        writer.write(chunk)
        await writer.drain()  # blocks once the client stops reading
        state.written += len(chunk)


async def _trickle(writer: asyncio.StreamWriter, state: RawReceiver) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n")
    while True:  # each byte well within the per-read timeout; the whole never ends
        writer.write(b"x")
        await writer.drain()
        state.written += 1
        await asyncio.sleep(0.2)


async def test_a_huge_answer_is_read_up_to_the_cap_and_the_connection_dropped(
        make_harness: MakeHarness) -> None:
    async with raw_receiver(_huge_body) as rx, make_harness() as h:
        sub = await h.subscribe(target=rx.url())
        await h.publish(capa_opened(), CAPA_TOPIC)
        delivery = await _final(h, sub["id"], lambda d: d["status"] != "pending",
                                "the delivery settled")
        await asyncio.wait_for(rx.closed.wait(), 20)
    # The status code counts; the body was not read to its end: the connection went,
    # with what the socket buffers hold (a few MB at most) but nowhere near 64 MB.
    assert (delivery["status"], delivery["last_status_code"]) == ("delivered", 200)
    assert MAX_RESPONSE_BYTES <= rx.written < HUGE // 4, rx.written


async def test_a_trickling_receiver_is_cut_at_the_total_deadline(
        make_harness: MakeHarness) -> None:
    async with raw_receiver(_trickle) as rx, make_harness(
            delivery_timeout=2.0, delivery_deadline=1.0, retry_schedule=[600]) as h:
        sub = await h.subscribe(target=rx.url())
        await h.publish(capa_opened(), CAPA_TOPIC)
        delivery = await _final(h, sub["id"], lambda d: d["attempts"] == 1,
                                "the first attempt recorded")
        await asyncio.wait_for(rx.closed.wait(), 20)
    assert delivery["status"] == "pending"  # a retryable failure, retried on the schedule
    assert "1 s delivery deadline" in delivery["last_error"]
    assert delivery["next_attempt_at"] is not None
    assert 0 < rx.written < 100000

