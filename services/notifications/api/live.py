"""The live stream (Server-Sent Events) and the lessons-learned feeds.

The refusals here are the HTTP edge's own: a Last-Event-ID header that is no
position, and the per-process cap on open streams (429 with Retry-After).
"""

import asyncio
import re
from collections.abc import Callable
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import StringConstraints
from pydantic.json_schema import SkipJsonSchema
from starlette.types import Receive, Scope, Send

from shared.db import utcnow
from shared.events.base import Severity
from shared.http.errors import PROBLEM_RESPONSES, Problem
from shared.inputs import NO_NUL

from ..domain import EventFilter
from ..schemas import Pattern
from ..service import feeds, stream
from ..service.messages import Links
from ..service.queries import latest_lessons
from .deps import Person, SessionsDep, SettingsDep

router = APIRouter(prefix="/v1", tags=["stream and feeds"])
FEED_SIZE = 50
# A stream position as the SSE ids give them out. Positions are 64-bit database
# integers; 18 digits stay below 2^63 and reach 10^18, far past any real one.
POSITION = r"^[0-9]{1,18}$"
# A filter value in the query string (NUL is refused before the route runs).
Value = Annotated[str, StringConstraints(max_length=255, pattern=NO_NUL)]


class _HeldStream(StreamingResponse):
    """A live stream that gives its slot back however it ends: finished, client
    gone, or cancelled by a shutdown."""

    def __init__(self, content: Any, *, release: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


_TOO_MANY: dict[int | str, dict[str, Any]] = {429: {
    "description": "Too many open live streams for this caller "
                   "(Retry-After says when one ends at the latest)",
    "content": PROBLEM_RESPONSES[400]["content"]}}


def _take_slot(request: Request, principal: str, max_duration: float) -> Callable[[], None]:
    slots: stream.StreamSlots = request.app.state.stream_slots
    now = asyncio.get_running_loop().time()
    try:
        return slots.take(principal, now=now, ends_by=now + max_duration)
    except stream.StreamLimitReached as exc:
        raise Problem(429, f"You already have {slots.per_principal} live streams open, the "
                      "most one caller may hold; close one, or reconnect after Retry-After "
                      "seconds (when your oldest stream ends at the latest).",
                      title="Too many live streams",
                      headers={"Retry-After": str(exc.retry_after)}) from exc


@router.get("/stream", response_class=StreamingResponse, responses=_TOO_MANY)
async def live_stream(
    request: Request, principal: Person, sessions: SessionsDep, settings: SettingsDep,
    event_type: Annotated[list[Pattern] | None, Query(alias="type", max_length=50)] = None,
    min_severity: Severity | None = None,
    source: Annotated[list[Value] | None, Query(max_length=50)] = None,
    category: Annotated[list[Value] | None, Query(max_length=50)] = None,
    tag: Annotated[list[Value] | None, Query(max_length=50)] = None,
    owner: Annotated[list[Value] | None, Query(max_length=50)] = None,
    nonconformity_id: UUID | None = None, capa_id: UUID | None = None,
    # Declared with its pattern; checked below, so a bad one stays the 400 it was.
    last_event_id: Annotated[str | SkipJsonSchema[None], Header(
        json_schema_extra={"pattern": POSITION},
        description="The id of the last event you received: the stream resumes after it. "
                    "Anything else is a 400.")] = None,
) -> Response:
    """Server-Sent Events of every consumed event that matches the filter.

    Each SSE ``id`` is a stream position; reconnect with ``Last-Event-ID`` to
    get what you missed. Without it the stream starts at the newest event.
    One caller may hold ``stream_max_per_principal`` streams per process; 429 beyond.
    """
    if last_event_id is not None:
        # Exactly the declared pattern: int() would also take "+5", " 5" or non-ASCII digits.
        if not re.fullmatch(POSITION, last_event_id):
            raise Problem(400, "Last-Event-ID must be a stream position this API gave out "
                          "(up to 18 digits).", title="Invalid Last-Event-ID")
        after = int(last_event_id)
    else:
        after = await stream.current_position(sessions)
    wanted = EventFilter(
        event_types=tuple(event_type or ()),
        min_severity=min_severity.value if min_severity else None,
        sources=tuple(source or ()), categories=tuple(category or ()),
        tags=tuple(tag or ()), owners=tuple(owner or ()),
        nonconformity_id=str(nonconformity_id) if nonconformity_id else None,
        capa_id=str(capa_id) if capa_id else None)
    stop = request.app.state.runtime.stopping

    async def stopped() -> bool:
        return bool(stop.is_set() or await request.is_disconnected())

    # Taken last: nothing after this may fail before the response holds the release.
    release = _take_slot(request, principal.subject, settings.stream_max_duration)
    return _HeldStream(
        stream.sse_events(sessions, after=after, wanted=wanted,
                          poll_interval=settings.stream_poll_interval,
                          keepalive_interval=settings.stream_keepalive_interval,
                          max_duration=settings.stream_max_duration, stopped=stopped),
        release=release, media_type="text/event-stream",
        headers={"cache-control": "no-cache", "x-accel-buffering": "no"})


@router.get("/feeds/lessons.atom", response_class=Response)
async def lessons_atom(_principal: Person, sessions: SessionsDep,
                       settings: SettingsDep) -> Response:
    """The latest lessons learned as an Atom 1.0 feed (basic auth works for feed readers)."""
    base = settings.feed_base_url.rstrip("/")
    lessons = await latest_lessons(sessions, limit=FEED_SIZE)
    body = feeds.atom(lessons, self_url=f"{base}/v1/feeds/lessons.atom",
                      links=Links(settings.public_base_url, settings.nonconformity_base_url,
                            settings.ui_base_url),
                      now=utcnow())
    return Response(body, media_type="application/atom+xml; charset=utf-8")


@router.get("/feeds/lessons.json", responses={200: {
    "description": "JSON Feed 1.1", "content": {"application/feed+json": {}}}})
async def lessons_json(_principal: Person, sessions: SessionsDep,
                       settings: SettingsDep) -> Response:
    """The latest lessons learned as a JSON Feed 1.1."""
    base = settings.feed_base_url.rstrip("/")
    lessons = await latest_lessons(sessions, limit=FEED_SIZE)
    body = feeds.json_feed(lessons, self_url=f"{base}/v1/feeds/lessons.json",
                           home_url=base,
                           links=Links(settings.public_base_url,
                                       settings.nonconformity_base_url, settings.ui_base_url))
    return JSONResponse(body, media_type="application/feed+json")
