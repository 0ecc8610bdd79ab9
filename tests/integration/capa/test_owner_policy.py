"""Escalated CAPAs get an owner by the configured policy (CAPA_OWNER_POLICY)."""

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from services.capa.app import create_app
from shared.db import utcnow
from shared.events.base import NONCONFORMITY_TOPIC, Severity
from shared.events.envelope import new_event, to_record
from shared.events.nonconformity import NonconformityEscalated
from tests.conftest import DatabaseFactory, eventually, running
from tests.integration.capa.conftest import Capas, capa_settings

POLICY = {"monitoring": "SRE-Lead", "category:payments": "payments-lead",
          "*": "quality-manager"}


@pytest.fixture
async def capas(new_sqlite_database: DatabaseFactory,
                api_keys: tuple[Path, dict[str, str]]) -> AsyncIterator[Capas]:
    keys_path, keys = api_keys
    settings = await capa_settings(new_sqlite_database, keys_path, owner_policy=POLICY)
    app = create_app(settings)
    async with running(app) as client:
        yield Capas(client=client, keys=keys, settings=settings, app=app)


def _escalated(source: str, *, category: str | None = None,
               owner: str | None = None) -> NonconformityEscalated:
    return NonconformityEscalated(
        nonconformity_id=uuid.uuid4(), number="NC-2026-00077", title="Checkout fails",
        severity=Severity.critical, source=source, category=category, owner=owner,
        reason="severity", escalated_at=utcnow())


async def _capa_of(capas: Capas, nc_id: uuid.UUID) -> dict[str, Any]:
    found: list[dict[str, Any]] = []

    async def opened() -> bool:
        page = await capas.client.get("/v1/capas", params={"nonconformity_id": str(nc_id)},
                                      headers=capas.as_("reporter"))
        found[:] = page.json()["items"]
        return bool(found)

    await eventually(opened, timeout=15, message="the escalated NC's CAPA")
    return found[0]


async def test_escalated_capas_are_owned_by_the_policy_unless_the_nc_has_an_owner(
        capas: Capas) -> None:
    events = {"monitoring": _escalated("monitoring"),
              "category": _escalated("monitoring", category="Payments"),
              "fallback": _escalated("support"),
              "nc_owner": _escalated("monitoring", owner="Test-Engineer")}
    bus = capas.app.state.runtime.bus
    await bus.publish([to_record(new_event(service="nonconformity", data=e), NONCONFORMITY_TOPIC)
                       for e in events.values()])
    owners = {name: (await _capa_of(capas, e.nonconformity_id))["owner"]
              for name, e in events.items()}
    assert owners == {"monitoring": "sre-lead", "category": "payments-lead",
                      "fallback": "quality-manager", "nc_owner": "test-engineer"}
    # The owner filter finds them: "my work" of the policy's owner.
    page = await capas.client.get("/v1/capas", params={"owner": "SRE-LEAD"},
                                  headers=capas.as_("reporter"))
    assert {c["nonconformity_ids"][0] for c in page.json()["items"]} == {
        str(events["monitoring"].nonconformity_id)}


async def test_an_escalated_nc_names_the_capas_supplier(capas: Capas) -> None:
    named = NonconformityEscalated(
        nonconformity_id=uuid.uuid4(), number="NC-2026-00078", title="Gaskets harden",
        severity=Severity.major, source="supplier", supplier_code="acme-seals",
        reason="severity", escalated_at=utcnow())
    odd = named.model_copy(update={"nonconformity_id": uuid.uuid4(),
                                   "supplier_code": "not a/code"})
    bus = capas.app.state.runtime.bus
    await bus.publish([to_record(new_event(service="nonconformity", data=e), NONCONFORMITY_TOPIC)
                       for e in (named, odd)])
    assert (await _capa_of(capas, named.nonconformity_id))["supplier_code"] == "acme-seals"
    # An event cannot be refused: a code that is not one is left out.
    assert (await _capa_of(capas, odd.nonconformity_id))["supplier_code"] is None
