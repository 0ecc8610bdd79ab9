"""A CAPA app with a real SMTP server (aiosmtpd) for the SCAR tests, on SQLite
or PostgreSQL, and helpers that drive a SCAR through its link."""

import json
import re
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlmodel import col, select

from services.capa.app import create_app
from services.capa.models import AuditEntry, OutboxMessage
from services.capa.settings import CapaSettings
from shared.db import utcnow
from tests.conftest import (
    BUS_MIGRATIONS,
    SERVICE_MIGRATIONS,
    DatabaseFactory,
    migrate,
    running,
)
from tests.integration.capa.conftest import TEST_AUDIT_KEY, Capas

LINK = re.compile(r"http://ui\.test/supplier-response/([A-Za-z0-9_-]{43})")


class MailBox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = BytesParser(policy=default_policy).parsebytes(envelope.content)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 Message accepted for delivery"

    def token_in(self, message: EmailMessage) -> str:
        body = message.get_body(("plain",))
        assert body is not None
        found = LINK.search(body.get_content())
        assert found, body.get_content()
        return found.group(1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def mailbox() -> Iterator[tuple[MailBox, int]]:
    box = MailBox()
    controller = Controller(box, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield box, controller.port
    finally:
        controller.stop()


@dataclass
class ScarDesk(Capas):
    box: MailBox = None  # type: ignore[assignment]

    def link(self, token: str) -> dict[str, str]:
        return {"Authorization": f"SCAR {token}"}

    async def supplier(self, code: str = "acme-seals", **fields: Any) -> dict[str, Any]:
        body = {"code": code, "name": "Acme Seals GmbH", "criticality": "high",
                "supplies": "Gaskets and O-rings",
                "contacts": [{"name": "Jana Novak", "email": "jana@acme.example"}]} | fields
        made = await self.client.post("/v1/suppliers", json=body, headers=self.as_("manager"))
        assert made.status_code == 201, made.text
        return dict(made.json())

    async def send(self, capa_id: str, **fields: Any) -> httpx.Response:
        body = {"supplier_code": "acme-seals", "contact_email": "jana@acme.example",
                "due_date": (utcnow().date() + timedelta(days=14)).isoformat(),
                "request": "Gaskets of lot 4711 harden at 80 C; find and remove the cause."}
        return await self.client.post(f"/v1/capas/{capa_id}/scars", json=body | fields,
                                      headers=self.as_("engineer"))

    async def sent_scar(self, capa_id: str | None = None) -> tuple[dict[str, Any], str]:
        """A SCAR sent from a new (or the given) CAPA and the token its e-mail carried."""
        capa_id = capa_id or (await self.open())["id"]
        before = len(self.box.messages)
        sent = await self.send(capa_id)
        assert sent.status_code == 201, sent.text
        assert sent.json()["email_status"] == "sent", sent.text
        assert len(self.box.messages) == before + 1
        return dict(sent.json()), self.box.token_in(self.box.messages[-1])

    async def outbox_values(self) -> list[str]:
        """Each outbox row's value and headers, as text."""
        async with self.app.state.runtime.sessions() as session:
            rows = (await session.exec(select(OutboxMessage)
                                       .order_by(col(OutboxMessage.id)))).all()
        return [bytes(r.value).decode() + str(r.model_dump(exclude={"value"})) for r in rows]

    async def events(self, event_type: str) -> list[dict[str, Any]]:
        async with self.app.state.runtime.sessions() as session:
            rows = (await session.exec(select(OutboxMessage.value).where(
                col(OutboxMessage.event_type) == event_type).order_by(col(OutboxMessage.id)))
                    ).all()
        return [json.loads(v)["data"] for v in rows]

    async def audit(self, capa_id: str) -> list[AuditEntry]:
        async with self.app.state.runtime.sessions() as session:
            return list((await session.exec(select(AuditEntry).where(
                col(AuditEntry.capa_id) == UUID(capa_id)))).all())


def complete_response(**overrides: Any) -> dict[str, Any]:
    return {
        "containment": "Lot 4711 quarantined at our site and yours; 1 200 parts sorted.",
        "problem_statement": "Gaskets harden after 2 h at 80 C",
        "whys": [{"why": "Why do they harden?", "because": "Wrong compound grade"},
                 {"why": "Why the wrong grade?", "because": "Drawing rev B names no grade"},
                 {"why": "Why no grade?", "because": "Review checklist lacks temperature"}],
        "root_cause": "The drawing review checklist has no operating-temperature item",
        "corrective_actions": [{"description": "Add temperature to the review checklist",
                                "due_date": (date.today() + timedelta(days=30)).isoformat()}],
    } | overrides


@asynccontextmanager
async def scar_desk(database_url: str, bus_url: str, keys_path: Path, keys: dict[str, str],
                    smtp_port: int, box: MailBox, **overrides: Any
                    ) -> AsyncIterator[ScarDesk]:
    await migrate(SERVICE_MIGRATIONS, database_url)
    await migrate(BUS_MIGRATIONS, bus_url)
    settings = CapaSettings(database_url=database_url, bus="sql", bus_database_url=bus_url,
                            credentials_file=str(keys_path), relay_poll_interval=0.02,
                            log_json=False, audit_key=TEST_AUDIT_KEY, smtp_host="127.0.0.1",
                            smtp_port=smtp_port, ui_base_url="http://ui.test",
                            evidence_max_bytes=32 * 1024, **overrides)
    app = create_app(settings)
    async with running(app) as client:
        yield ScarDesk(client=client, keys=keys, settings=settings, app=app, box=box)


@pytest.fixture(params=["sqlite", "postgres"])
async def desk(request: pytest.FixtureRequest, new_sqlite_database: DatabaseFactory,
               new_postgres_database: DatabaseFactory, api_keys: tuple[Path, dict[str, str]],
               mailbox: tuple[MailBox, int]) -> AsyncIterator[ScarDesk]:
    """The SCAR desk on SQLite and on PostgreSQL, with the test mailbox (the dead-link
    limit raised: the tests try dead links on purpose, from one address)."""
    keys_path, keys = api_keys
    url = await (new_postgres_database if request.param == "postgres"
                 else new_sqlite_database)()
    box, port = mailbox
    async with scar_desk(url, await new_sqlite_database(), keys_path, keys, port, box,
                         scar_unknown_link_requests_per_minute=1000) as desk:
        yield desk
