"""Server-Sent Events over the numbered ``received_events`` table.

The SSE event id is the stream position, so a client that reconnects with
``Last-Event-ID`` gets everything after it that matches its filter.
"""

import asyncio
import itertools
import json
import math
from collections.abc import AsyncIterator, Awaitable, Callable

from sqlalchemy import func
from sqlmodel import col, select

from shared.db import SessionFactory

from ..domain import EventFilter
from ..models import ReceivedEvent

BATCH = 200


class StreamLimitReached(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"stream limit reached; retry after {retry_after} s")
        self.retry_after = retry_after


class StreamSlots:
    """Open live streams per principal, in this process.

    Each stream holds a database poll loop and a connection for minutes, so one
    person (or one buggy dashboard) must not open them without bound. The count
    is per process: behind N replicas a person may hold N times the limit, which
    still bounds every replica's work.
    """

    def __init__(self, per_principal: int) -> None:
        self.per_principal = per_principal
        # principal -> {stream token: loop time by which that stream ends at the latest}
        self._open: dict[str, dict[int, float]] = {}
        self._tokens = itertools.count()

    def open_streams(self, principal: str) -> int:
        return len(self._open.get(principal, {}))

    def take(self, principal: str, *, now: float, ends_by: float) -> Callable[[], None]:
        """A slot for one stream, or StreamLimitReached saying when the principal's
        earliest stream ends at the latest. Returns the release (safe to call twice)."""
        streams = self._open.setdefault(principal, {})
        # No stream outlives its deadline (sse_events stops there), so a slot
        # still held past it was never released (a response that never ran): free it.
        for token in [t for t, end in streams.items() if end < now]:
            del streams[token]
        if len(streams) >= self.per_principal:
            raise StreamLimitReached(max(1, math.ceil(min(streams.values()) - now)))
        token = next(self._tokens)
        streams[token] = ends_by

        def release() -> None:
            held = self._open.get(principal)
            if held is not None and held.pop(token, None) is not None and not held:
                del self._open[principal]

        return release


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
