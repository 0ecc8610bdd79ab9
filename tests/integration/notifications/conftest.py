"""Harness for the notifications service: a real webhook receiver, a real SMTP
server, and the app on SQLite + the sql bus (or PostgreSQL + Kafka)."""

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from aiosmtpd.controller import Controller
from cloudevents.core.v1.event import CloudEvent
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.notifications.app import create_app
from services.notifications.service.matching import DELIVERIES_QUEUED, EventMatcher
from services.notifications.settings import NotificationsSettings
from shared.bus.sql import SqlBus
from shared.db import SessionFactory, commit_listener, transaction, utcnow
from shared.events.catalog import CapaOpened, LessonPublished, Severity
from shared.events.envelope import new_event, to_record
from shared.events.nonconformity import NonconformityReported
from shared.inbox import consumed as as_consumed
from tests.conftest import BUS_MIGRATIONS, ROOT, DatabaseFactory, eventually, migrate, running

NOTIFICATIONS_MIGRATIONS = ROOT / "services" / "notifications" / "migrations"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1 that records every request.

    ``plan[path]`` is a list of (status, headers) answers used one per request;
    when it runs out the receiver answers 200.
    """

    port: int
    received: list[Received] = field(default_factory=list)
    plan: dict[str, list[tuple[int, dict[str, str]]]] = field(default_factory=dict)
    delay: dict[str, float] = field(default_factory=dict)
    server: uvicorn.Server | None = None
    task: asyncio.Task[None] | None = None

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    async def _handle(self, request: Request) -> Response:
        body = await request.body()
        path = request.url.path
        if path in self.delay:
            await asyncio.sleep(self.delay[path])
        self.received.append(Received(path, dict(request.headers), body))
        answers = self.plan.get(path)
        status, headers = answers.pop(0) if answers else (200, {})
        return Response(status_code=status, headers=headers)

    async def start(self) -> None:
        app = Starlette(routes=[Route("/{path:path}", self._handle, methods=["POST"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="off")
        self.server = uvicorn.Server(config)
        self.task = asyncio.create_task(self.server.serve())
        server = self.server

        async def started() -> bool:
            return server.started

        await eventually(started, timeout=10, interval=0.01, message="receiver started")

    async def stop(self) -> None:
        if self.server is not None and self.task is not None:
            self.server.should_exit = True
            await self.task


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver(port=free_port())
    await r.start()
    yield r
    await r.stop()


class _MailBox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = BytesParser(policy=default_policy).parsebytes(envelope.content)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 Message accepted for delivery"


@dataclass
class Smtp:
    port: int
    box: _MailBox


@pytest.fixture
def smtp_server() -> Any:
    box = _MailBox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield Smtp(port=controller.port, box=box)
    controller.stop()


@dataclass
class Harness:
    app: FastAPI
    client: httpx.AsyncClient
    tokens: dict[str, str]
    bus_url: str
    settings: NotificationsSettings
    publish: Callable[[CloudEvent, str], Awaitable[None]]

    def auth(self, role: str = "manager") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    async def subscribe(self, role: str = "reporter", **body: Any) -> dict[str, Any]:
        body.setdefault("channel", "webhook")
        response = await self.client.post("/v1/subscriptions", json=body,
                                          headers=self.auth(role))
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def deliveries(self, **params: Any) -> list[dict[str, Any]]:
        response = await self.client.get("/v1/deliveries", params=params | {"limit": 200},
                                         headers=self.auth("manager"))
        assert response.status_code == 200, response.text
        return list(response.json()["items"])


def fast_settings(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = dict(
        allowed_networks=["127.0.0.0/8"], retry_schedule=[0.2, 0.2, 0.2], retry_jitter=0.1,
        delivery_timeout=5.0, delivery_poll_interval=0.05, relay_poll_interval=0.05,
        stream_poll_interval=0.05, stream_keepalive_interval=0.5,
        consumer_retry_backoff=0.05, log_json=False, digest_check_interval=3600)
    values.update(overrides)
    return values


@asynccontextmanager
async def harness(database_url: str, bus_url: str, keys_path: Path, tokens: dict[str, str],
                  **overrides: Any) -> AsyncIterator[Harness]:
    settings = NotificationsSettings(database_url=database_url, bus="sql",
                                     bus_database_url=bus_url,
                                     credentials_file=str(keys_path),
                                     **fast_settings(**overrides))
    bus = SqlBus(url=bus_url)
    await bus.start()

    async def publish(event: CloudEvent, topic: str) -> None:
        await bus.publish([to_record(event, topic)])

    app = create_app(settings)
    try:
        async with running(app) as client:
            yield Harness(app, client, tokens, bus_url, settings, publish)
    finally:
        await bus.stop()


@pytest.fixture
async def notifications(new_sqlite_database: DatabaseFactory,
                        api_keys: tuple[Path, dict[str, str]]) -> AsyncIterator[Harness]:
    url, bus_url = await new_sqlite_database(), await new_sqlite_database()
    await migrate(NOTIFICATIONS_MIGRATIONS, url)
    await migrate(BUS_MIGRATIONS, bus_url)
    async with harness(url, bus_url, *api_keys) as h:
        yield h


# --- events -------------------------------------------------------------------

def capa_opened(capa_id: uuid.UUID | None = None, *, severity: Severity = Severity.major,
                title: str = "Seal leak on pump P-7") -> CloudEvent:
    return new_event(service="capa", data=CapaOpened(
        capa_id=capa_id or uuid.uuid4(), number="CAPA-2026-00042", title=title,
        severity=severity, opened_at=utcnow()))


def nc_reported(*, severity: Severity = Severity.minor, tags: list[str] | None = None,
                source: str = "support", nc_id: uuid.UUID | None = None) -> CloudEvent:
    return new_event(service="nonconformity", data=NonconformityReported(
        nonconformity_id=nc_id or uuid.uuid4(), number="NC-2026-00007", title="Label misprint",
        severity=severity, source=source, tags=tags or [], reported_at=utcnow()))


def lesson_published(title: str = "Torque seals to spec") -> CloudEvent:
    return new_event(service="capa", data=LessonPublished(
        lesson_id=uuid.uuid4(), capa_id=uuid.uuid4(), title=title,
        problem="Seals leaked <under> pressure & heat", root_cause="No torque spec",
        cause_category="method", actions=["Add torque spec"],
        what_to_do_differently="Specify torque on every seal drawing", tags=["seals"],
        published_at=utcnow()))


async def match(sessions: SessionFactory, event: CloudEvent) -> list[uuid.UUID]:
    """Match ``event`` in a transaction of its own; the ids of the deliveries it
    queued, as this process's delivery worker is handed them on commit."""
    queued: list[uuid.UUID] = []
    with commit_listener(sessions, DELIVERIES_QUEUED, queued.extend):
        async with transaction(sessions) as session:
            await EventMatcher()(session, as_consumed(event))
    return queued
