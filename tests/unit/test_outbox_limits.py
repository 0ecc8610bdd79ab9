"""The outbox refuses an event over the documented maximum when it is recorded,
and the HTTP layer answers that with a 422 problem, not a 500."""

import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import create_engine, utcnow
from shared.events.base import Severity
from shared.events.capa import CapaOpened
from shared.http.errors import install_problem_handlers
from shared.outbox import MAX_EVENT_BYTES, EventTooLarge, OutboxMessage, record_event


def _session() -> AsyncSession:
    return AsyncSession(create_engine("sqlite+aiosqlite://"))


def _opened(title: str) -> CapaOpened:
    return CapaOpened(capa_id=uuid.uuid4(), number="CAPA-2026-00001", title=title,
                      severity=Severity.major, opened_at=utcnow())


def test_an_event_over_the_maximum_is_refused_when_recorded() -> None:
    session = _session()
    with pytest.raises(EventTooLarge) as refused:
        record_event(session, service="capa", data=_opened("x" * MAX_EVENT_BYTES))
    assert refused.value.event_type == "capaflow.capa.opened.v1"
    assert refused.value.size > MAX_EVENT_BYTES == refused.value.limit
    assert not [r for r in session.new if isinstance(r, OutboxMessage)]


def test_an_event_just_under_the_maximum_is_recorded() -> None:
    session = _session()
    # The envelope and headers take well under 2 KiB.
    record_event(session, service="capa", data=_opened("x" * (MAX_EVENT_BYTES - 2048)))
    assert len([r for r in session.new if isinstance(r, OutboxMessage)]) == 1


async def test_event_too_large_is_a_422_problem() -> None:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/v1/things")
    async def things() -> None:
        record_event(_session(), service="capa", data=_opened("x" * 300_000))

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/v1/things")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["title"] == "Event too large"
    assert body["max_event_bytes"] == MAX_EVENT_BYTES and body["event_bytes"] > 300_000
