"""A payload is written as one batch, yet its alerts are decided one after the
other: each sees the recurrences and escalations of the alerts before it."""

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from services.nonconformity.settings import NonconformitySettings
from shared.bus.sql import SqlBus
from shared.events.base import Severity
from shared.events.capa import CapaOpened
from shared.events.envelope import new_event, to_record
from tests.conftest import eventually
from tests.integration.nonconformity.conftest import NcService, alert, alertmanager_payload

AM = "/v1/intake/alertmanager"
RECURRED = "capaflow.nonconformity.recurred.v1"
ESCALATED = "capaflow.nonconformity.escalated.v1"


async def _post(nc: NcService, *alerts: dict[str, Any]) -> dict[str, Any]:
    r = await nc.client.post(AM, json=alertmanager_payload(*alerts),
                             headers=nc.auth("source:alertmanager"))
    assert r.status_code == 200, r.text
    return dict(r.json())


async def _items(nc: NcService, numbers: list[str]) -> list[dict[str, Any]]:
    items = (await nc.client.get("/v1/nonconformities", params={"limit": 200},
                                 headers=nc.auth("engineer"))).json()["items"]
    by_number = {i["number"]: i for i in items}
    return [by_number[n] for n in numbers]


async def _history(nc: NcService, nc_id: str) -> list[str]:
    history = (await nc.client.get(f"/v1/nonconformities/{nc_id}/history",
                                   headers=nc.auth("engineer"))).json()
    return [h["action"] for h in history]


async def test_a_burst_inside_one_payload_asks_for_one_capa(nc: NcService) -> None:
    # Five alerts of one problem (alert name and service), each its own fingerprint.
    result = await _post(nc, *[alert(f"valve-{i}", name="ValveStuck", service="line-7")
                               for i in range(5)])
    items = await _items(nc, result["created"])
    assert result["escalated"] == [items[2]["number"]], "the third occurrence escalates"
    assert [i["escalation_reason"] for i in items] == [None, None, "recurrence", None, None]
    assert [i["capa_link"] for i in items] == ["none", "none", "requested", "requested",
                                               "requested"]
    assert [len(await nc.events(i["id"], RECURRED)) for i in items] == [0, 1, 1, 0, 0]
    assert await _history(nc, items[3]["id"]) == ["reported", "joins_requested_capa"]
    # Numbers follow the payload's order.
    assert result["created"] == sorted(result["created"])


@pytest.mark.requirement("iso9001-10.2.1b", "cfr820-100a1")
async def test_alerts_of_a_problem_with_an_open_capa_join_it(nc: NcService) -> None:
    first = await _post(nc, alert("pump-1", name="PumpDown", service="plant", severity="critical"))
    [escalated] = await _items(nc, first["escalated"])
    capa_id = uuid.uuid4()
    settings: NonconformitySettings = nc.app.state.settings
    bus = SqlBus(url=settings.bus_database_url)
    data = CapaOpened(capa_id=capa_id, number="CAPA-2026-00042", title="Pump down",
                      nonconformity_id=escalated["id"], severity=Severity.critical,
                      opened_at=datetime.now(UTC))
    try:
        await bus.publish([to_record(new_event(service="capa", data=data), data.topic)])
    finally:
        await bus.stop()

    async def linked() -> bool:
        return (await _items(nc, [escalated["number"]]))[0]["capa_link"] == "open"
    await eventually(linked, message="escalated NC linked to its CAPA")

    # One payload: the escalated alert re-fires, a new alert of the same problem
    # arrives, and a repeat of the re-firing (same start) only moves last_seen.
    refire = alert("pump-1", name="PumpDown", service="plant", severity="critical",
                   starts="2026-11-25T09:00:00Z")
    result = await _post(nc, refire, alert("pump-2", name="PumpDown", service="plant",
                                           severity="critical"))
    assert result["escalated"] == [] and result["updated"] == [escalated["number"]]
    [again, joined] = await _items(nc, [escalated["number"], *result["created"]])
    assert again["occurrence_count"] == 2
    assert joined["capa_id"] == str(capa_id) and joined["capa_link"] == "open"
    assert joined["escalated_at"] is None
    assert await _history(nc, joined["id"]) == ["reported", "linked_to_capa"]
    assert (await nc.events(joined["id"], RECURRED))[-1]["data"]["capa_id"] == str(capa_id)
    assert len(await nc.events(event_type=ESCALATED)) == 1
    repeated = await _post(nc, refire)
    assert (await _items(nc, repeated["updated"]))[0]["occurrence_count"] == 2
