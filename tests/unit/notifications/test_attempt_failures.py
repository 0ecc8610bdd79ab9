"""Whatever goes wrong in building or sending is an attempt result, never an exception."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from services.notifications.channels import email, webhook
from services.notifications.channels.guard import TargetRefused, check_url_shape
from services.notifications.domain import Outcome
from services.notifications.service import attempts
from services.notifications.service.attempts import Due, send
from services.notifications.service.messages import Links
from services.notifications.settings import NotificationsSettings
from shared.lease import lease_key

NOW = datetime(2026, 11, 26, 8, tzinfo=UTC)
LINKS = Links("https://capa.example", "https://nc.example")


def _due(channel: str = "webhook", target: str = "https://hooks.example/x") -> Due:
    return Due(id=uuid.uuid4(), subscription_id=uuid.uuid4(), subject="s", event_id="e",
               event_type="capaflow.capa.opened.v1",
               payload='{"type": "capaflow.capa.opened.v1", "data": {"title": "Leak"}}',
               attempts=0, channel=channel, target=target, secret="whsec_" + "A" * 32,
               previous_secret=None, previous_secret_expires_at=None)


async def _send(due: Due, **settings: Any) -> Any:
    async with httpx.AsyncClient() as client:
        return await send(due, client=client, settings=NotificationsSettings(**settings),
                          allowed=(), links=LINKS, now=NOW)


async def test_an_unexpected_error_is_a_retryable_failure_with_its_message(
        monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("boom\n" + "x" * 2000)

    monkeypatch.setattr(webhook, "post", broken)
    result = await _send(_due())
    assert result.outcome is Outcome.retry
    assert result.error.startswith("RuntimeError: boom")
    assert len(result.error) == attempts.MAX_ERROR


async def test_a_payload_that_is_not_json_is_a_failure_not_a_crash() -> None:
    result = await _send(replace(_due(channel="slack"), payload="not json"))
    assert result.outcome is Outcome.retry and result.error.startswith("JSONDecodeError")


async def test_an_attempt_is_cut_at_the_total_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    async def never(*_: Any, **__: Any) -> Any:
        await asyncio.Event().wait()

    monkeypatch.setattr(webhook, "post", never)
    result = await _send(_due(), delivery_deadline=0.05)
    assert result.outcome is Outcome.retry
    assert result.error == "no complete answer within the 0.05 s delivery deadline"


async def test_an_answer_is_read_up_to_the_cap() -> None:
    pulled = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal pulled
        for _ in range(1000):  # 64 MB if read to the end
            pulled += 1
            yield b"x" * 65536

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body())

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client, \
            client.stream("POST", "https://hooks.example/x") as response:
        read = await webhook.read_capped(response)
    assert read == webhook.MAX_RESPONSE_BYTES and pulled == 1


def test_a_subject_loses_its_line_breaks() -> None:
    assert email.one_line("Leak\r\nBcc: spy@example.com\n\t x") == "Leak Bcc: spy@example.com x"
    mail = email.render(sender="a@example.com", to="b@example.com", subject="A\r\nB",
                        context={"title": "A"}, message_id="m1")
    assert mail["Subject"] == "A B"


@pytest.mark.parametrize("url", ["http://01.01.01.01/x", "http://[::1/x", "http://a b.example:x/"])
def test_a_url_the_sender_cannot_parse_is_refused_up_front(url: str) -> None:
    with pytest.raises(TargetRefused):
        check_url_shape(url)


def test_lease_keys_are_stable_signed_64_bit_and_per_name() -> None:
    key = lease_key("notifications.digests")
    assert key == lease_key("notifications.digests") != lease_key("capa.overdue")
    assert -2**63 <= key < 2**63
