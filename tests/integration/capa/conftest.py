"""The CAPA app in-process on SQLite + the sql bus, and helpers to drive it."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.capa.app import create_app
from services.capa.settings import CapaSettings
from shared.db import utcnow
from tests.conftest import (
    BUS_MIGRATIONS,
    SERVICE_MIGRATIONS,
    DatabaseFactory,
    migrate,
    running,
)

ROLES = ("reporter", "engineer", "verifier", "manager", "admin")
# The audit trail's HMAC key (CAPA_AUDIT_KEY) the test apps run with.
TEST_AUDIT_KEY = "test-audit-key-" + "0123456789abcdef" * 2


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Capas:
    """An HTTP client on a running CAPA app plus one API key per role."""

    client: httpx.AsyncClient
    keys: dict[str, str]
    settings: CapaSettings
    app: Any

    def as_(self, role: str, **headers: str) -> dict[str, str]:
        return auth(self.keys[role]) | headers

    async def open(self, role: str = "engineer", **fields: Any) -> dict[str, Any]:
        body = {"title": "Seal leak on line 3", "severity": "major"} | fields
        response = await self.client.post("/v1/capas", json=body, headers=self.as_(role))
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def move(self, capa_id: str, to: str, role: str = "engineer",
                   **body: Any) -> httpx.Response:
        return await self.client.post(f"/v1/capas/{capa_id}/transitions",
                                      json={"to": to} | body, headers=self.as_(role))

    async def submit_root_cause(self, capa_id: str, role: str = "engineer") -> httpx.Response:
        current = await self.client.get(f"/v1/capas/{capa_id}/root-cause",
                                        headers=self.as_(role))
        return await self.client.put(
            f"/v1/capas/{capa_id}/root-cause", json=root_cause_form(),
            headers=self.as_(role, **{"If-Match": current.headers["etag"]}))

    async def add_action(self, capa_id: str, role: str = "engineer",
                         **fields: Any) -> dict[str, Any]:
        body = {"kind": "corrective", "description": "Replace the seal supplier's gasket spec",
                "owner": "test-engineer", "due_date": "2026-12-31"} | fields
        response = await self.client.post(f"/v1/capas/{capa_id}/actions", json=body,
                                          headers=self.as_(role))
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def finish_action(self, capa_id: str, action: dict[str, Any]) -> httpx.Response:
        return await self.client.patch(
            f"/v1/capas/{capa_id}/actions/{action['id']}",
            json={"status": "done", "completion_evidence": "Spec rev C released, ECO-12"},
            headers=self.as_("engineer", **{"If-Match": f'"{action["version"]}"'}))

    async def to_verifying(self, capa_id: str) -> None:
        """open -> investigating -> action_planned -> implementing -> verifying."""
        assert (await self.move(capa_id, "investigating")).status_code == 200
        assert (await self.submit_root_cause(capa_id)).status_code == 200
        assert (await self.move(capa_id, "action_planned")).status_code == 200
        action = await self.add_action(capa_id)
        assert (await self.move(capa_id, "implementing")).status_code == 200
        assert (await self.finish_action(capa_id, action)).status_code == 200
        assert (await self.move(capa_id, "verifying")).status_code == 200
        plan = await self.client.put(
            f"/v1/capas/{capa_id}/effectiveness-plan",
            # Due today (UTC): a verification before the check date is refused.
            json={"criteria": "No seal leak for 30 days",
                  "check_date": utcnow().date().isoformat()},
            headers=self.as_("engineer"))
        assert plan.status_code == 200, plan.text

    async def verify(self, capa_id: str, result: str = "effective",
                     role: str = "verifier") -> httpx.Response:
        return await self.client.post(
            f"/v1/capas/{capa_id}/effectiveness-verifications",
            json={"result": result, "evidence": "30 days of line data, 0 leaks"},
            headers=self.as_(role))


def root_cause_form(**overrides: Any) -> dict[str, Any]:
    return {
        "status": "submitted",
        "problem_statement": "Line 3 seals leak after 2 hours at 80 C",
        "whys": [
            {"why": "Why does the seal leak?", "because": "The gasket hardens"},
            {"why": "Why does it harden?", "because": "The compound is not rated for 80 C"},
            {"why": "Why that compound?", "because": "The spec does not state temperature"},
        ],
        "root_cause": "The gasket specification omits the operating temperature",
        "cause_category": "materials_supplier",
        "contributing_factors": ["summer heat", "new supplier"],
    } | overrides


async def capa_settings(new_sqlite_database: DatabaseFactory, keys_path: Path,
                        **overrides: Any) -> CapaSettings:
    url = await new_sqlite_database()
    bus_url = await new_sqlite_database()
    await migrate(SERVICE_MIGRATIONS, url)
    await migrate(BUS_MIGRATIONS, bus_url)
    overrides.setdefault("audit_key", TEST_AUDIT_KEY)
    return CapaSettings(database_url=url, bus="sql", bus_database_url=bus_url,
                        credentials_file=str(keys_path), relay_poll_interval=0.02,
                        log_json=False, **overrides)


@pytest.fixture
async def capas(new_sqlite_database: DatabaseFactory,
                api_keys: tuple[Path, dict[str, str]]) -> AsyncIterator[Capas]:
    keys_path, keys = api_keys
    settings = await capa_settings(new_sqlite_database, keys_path)
    app = create_app(settings)
    async with running(app) as client:
        yield Capas(client=client, keys=keys, settings=settings, app=app)
