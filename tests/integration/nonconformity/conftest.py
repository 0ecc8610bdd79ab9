"""The nonconformity service in-process (real HTTP stack, lifespan, relay,
consumer), on SQLite + the sql bus unless a test asks for more."""

import base64
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import col, select

from services.nonconformity.app import create_app
from services.nonconformity.settings import NonconformitySettings
from shared.outbox import OutboxMessage
from tests.conftest import BUS_MIGRATIONS, ROOT, DatabaseFactory, migrate, running

NC_MIGRATIONS = ROOT / "services" / "nonconformity" / "migrations"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"capaflow-test-secret-0123456789").decode()


@dataclass
class NcService:
    client: httpx.AsyncClient
    app: FastAPI
    tokens: dict[str, str]
    database_url: str

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    async def events(self, nc_id: str | None = None,
                     event_type: str | None = None) -> list[dict[str, Any]]:
        """Events the service recorded (its outbox), oldest first, as CloudEvents."""
        async with self.app.state.runtime.sessions() as session:
            query = select(OutboxMessage).order_by(col(OutboxMessage.id))
            if nc_id:
                query = query.where(OutboxMessage.key == nc_id)
            if event_type:
                query = query.where(OutboxMessage.event_type == event_type)
            rows = (await session.exec(query)).all()
        return [json.loads(r.value) for r in rows]

    async def report(self, role: str = "reporter", **fields: Any) -> httpx.Response:
        body = {"title": "Checkout page returns 500", "severity": "minor"} | fields
        return await self.client.post("/v1/nonconformities", json=body, headers=self.auth(role))


async def start_nc_service(database_url: str, bus_database_url: str, keys: Path,
                           tokens: dict[str, str], **overrides: Any
                           ) -> AsyncIterator[NcService]:
    await migrate(NC_MIGRATIONS, database_url)
    settings = NonconformitySettings(
        database_url=database_url, bus_database_url=bus_database_url,
        credentials_file=str(keys), log_json=False,
        webhook_sources={"ci": {"secret": WEBHOOK_SECRET, "title": "event.title",
                                "external_ref": "event.id", "severity": "event.level"}},
        **overrides)
    app = create_app(settings)
    async with running(app) as client:
        yield NcService(client=client, app=app, tokens=tokens, database_url=database_url)


@pytest.fixture
async def nc(new_sqlite_database: DatabaseFactory,
             api_keys: tuple[Path, dict[str, str]]) -> AsyncIterator[NcService]:
    bus_url = await new_sqlite_database()
    await migrate(BUS_MIGRATIONS, bus_url)
    async for service in start_nc_service(await new_sqlite_database(), bus_url, *api_keys):
        yield service


def alert(fingerprint: str | None = None, *, status: str = "firing", name: str = "HighErrorRate",
          severity: str = "warning", starts: str = "2026-11-25T08:00:00Z",
          ends: str = "0001-01-01T00:00:00Z", **labels: str) -> dict[str, Any]:
    return {"status": status, "labels": {"alertname": name, "severity": severity} | labels,
            "annotations": {"summary": f"{name} is firing", "description": "5xx above 5%"},
            "startsAt": starts, "endsAt": ends,
            "generatorURL": "http://prometheus.local/graph?g0.expr=rate",
            "fingerprint": fingerprint or uuid.uuid4().hex[:16]}


def alertmanager_payload(*alerts: dict[str, Any], truncated: int = 0) -> dict[str, Any]:
    status = "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
    return {"version": "4", "groupKey": "{}:{alertname=\"HighErrorRate\"}",
            "truncatedAlerts": truncated, "status": status, "receiver": "capaflow",
            "groupLabels": {"alertname": "HighErrorRate"}, "commonLabels": {},
            "commonAnnotations": {}, "externalURL": "http://alertmanager.local",
            "alerts": list(alerts)}
