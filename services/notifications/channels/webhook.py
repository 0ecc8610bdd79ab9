"""Signed webhooks (Standard Webhooks) and Slack incoming webhooks over HTTP."""

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

from shared import tracing

from ..domain import AttemptResult, IPNetwork, Outcome, classify_response, parse_retry_after
from .guard import Resolver, TargetRefused, check_target, resolve
from .pinning import pinned

# How much of a receiver's answer is read. Only the status code counts; the
# body is read (up to this) so a short answer leaves the connection reusable,
# and a longer one is cut by dropping the connection, so a receiver answering
# 200 MB costs 64 KiB of memory, not 200 MB.
MAX_RESPONSE_BYTES = 64 * 1024


def sign(*, secrets: Sequence[str], msg_id: str, timestamp: datetime, body: str) -> str:
    """``webhook-signature``: one ``v1,<sig>`` per secret, space-separated.

    During a secret rotation's overlap both the new and the previous secret
    sign, so a receiver that still knows only one of them verifies.
    """
    return " ".join(Webhook(s).sign(msg_id=msg_id, timestamp=timestamp, data=body)
                    for s in secrets)


def signed_headers(*, secrets: Sequence[str], msg_id: str, timestamp: datetime,
                   body: str) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": sign(secrets=secrets, msg_id=msg_id, timestamp=timestamp,
                                  body=body),
        "user-agent": "CAPAflow-Notifications/1",
    }


async def deliver(client: httpx.AsyncClient, *, url: str, body: str, headers: dict[str, str],
                  allowed: Sequence[IPNetwork], timeout: float, now: datetime,
                  traceparent: str | None, resolver: Resolver = resolve) -> AttemptResult:
    """:func:`post` of a signed webhook as a span in the event's trace (``traceparent``;
    a new trace when the event has none). The request carries a traceparent in
    that trace (the httpx client span's when an exporter is configured), so
    the receiver can join it."""
    with tracing.span("webhook delivery", parent=traceparent) as delivery:
        return await post(client, url=url, body=body, headers={**headers, "traceparent": delivery},
                          allowed=allowed, timeout=timeout, now=now, resolver=resolver)


async def post(client: httpx.AsyncClient, *, url: str, body: str, headers: dict[str, str],
               allowed: Sequence[IPNetwork], timeout: float, now: datetime,
               resolver: Resolver = resolve) -> AttemptResult:
    """POST to a webhook or Slack URL after the SSRF check, connecting to a checked address.

    ``client`` comes from :func:`.pinning.pinned_client` (the delivery
    worker's): with another client the name would be resolved a second time.
    """
    try:
        target = await check_target(url, allowed, resolver=resolver)
    except TargetRefused as exc:
        return AttemptResult(Outcome.failed, error=str(exc))
    try:
        with pinned(target):
            async with client.stream("POST", url, content=body.encode(), headers=headers,
                                     timeout=timeout) as response:
                await read_capped(response)
    except httpx.TimeoutException:
        return AttemptResult(Outcome.retry, error=f"timed out after {timeout:g} s")
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        # The URL itself is the problem: no retry can succeed.
        return AttemptResult(Outcome.failed, error=f"{type(exc).__name__}: {exc}"[:500])
    except httpx.HTTPError as exc:
        return AttemptResult(Outcome.retry, error=f"{type(exc).__name__}: {exc}"[:500])
    return classify_response(response.status_code,
                             parse_retry_after(response.headers.get("retry-after"), now))


async def read_capped(response: httpx.Response, limit: int = MAX_RESPONSE_BYTES) -> int:
    """Read at most about ``limit`` bytes of the body; returns how many were read.

    Leaving the stream unfinished makes httpx close the connection instead of
    returning it to the pool, which is what drops an oversized answer.
    """
    read = 0
    async for chunk in response.aiter_raw():
        read += len(chunk)
        if read >= limit:
            break
    return read


def slack_payload(*, title: str, lines: list[str], link: str | None,
                  link_text: str = "Open") -> dict[str, Any]:
    text = title + ("\n" + "\n".join(lines) if lines else "")
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{_slack_escape(title)}*"}},
    ]
    if lines:
        blocks.append({"type": "section", "text": {
            "type": "mrkdwn", "text": "\n".join(_slack_escape(line) for line in lines)[:2900]}})
    if link:
        blocks.append({"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": link_text}, "url": link}]})
        text += f"\n<{link}|{link_text}>"
    return {"text": text, "blocks": blocks}


def _slack_escape(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def dumps(payload: Any) -> str:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
