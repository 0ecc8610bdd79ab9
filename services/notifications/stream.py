"""Server-Sent Events over the numbered ``received_events`` table.

The SSE event id is the stream position, so a client that reconnects with
``Last-Event-ID`` gets everything after it that matches its filter.
"""

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable

from sqlalchemy import func
from sqlmodel import col, select

from shared.db import SessionFactory

from .domain import EventFilter
from .models import ReceivedEvent

BATCH = 200


async def current_position(sessions: SessionFactory) -> int:
    async with sessions() as session:
        return int((await session.exec(select(func.max(ReceivedEvent.position)))).one() or 0)


async def sse_events(sessions: SessionFactory, *, after: int, wanted: EventFilter,
                     poll_interval: float, keepalive_interval: float, max_duration: float,
                     stopped: Callable[[], Awaitable[bool]]) -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    last_sent = loop.time()
    # Streams end after max_duration: the client reconnects with Last-Event-ID
    # and loses nothing, and a server shutting down never waits on an endless response.
    deadline = last_sent + max_duration
    yield "retry: 2000\n\n"
    while not await stopped() and loop.time() < deadline:
        async with sessions() as session:
            rows = (await session.exec(select(ReceivedEvent)
                                       .where(col(ReceivedEvent.position) > after)
                                       .order_by(col(ReceivedEvent.position))
                                       .limit(BATCH))).all()
        for row in rows:
            assert row.position is not None
            after = row.position
            envelope = json.loads(row.envelope)
            data = envelope.get("data") if isinstance(envelope.get("data"), dict) else {}
            if wanted.matches(row.event_type, data or {}):
                last_sent = loop.time()
                yield (f"id: {row.position}\nevent: {row.event_type}\n"
                       f"data: {json.dumps(envelope, separators=(',', ':'))}\n\n")
        if len(rows) == BATCH:
            continue
        if loop.time() - last_sent >= keepalive_interval:
            last_sent = loop.time()
            # A comment line: keeps proxies from closing an idle connection.
            yield ": keep-alive\n\n"
        await asyncio.sleep(poll_interval)
