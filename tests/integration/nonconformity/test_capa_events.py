"""The CAPA service's events, consumed through the bus: link, recurrence, close."""

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from services.nonconformity.settings import NonconformitySettings
from shared.bus.sql import SqlBus
from shared.events.base import Severity
from shared.events.capa import CapaClosed, CapaOpened
from shared.events.envelope import new_event, to_record
from tests.conftest import eventually
from tests.integration.nonconformity.conftest import NcService


async def _publish_capa_event(nc: NcService, data: Any) -> str:
    settings: NonconformitySettings = nc.app.state.settings
    bus = SqlBus(url=settings.bus_database_url)
    event = new_event(service="capa", data=data)
    try:
        await bus.publish([to_record(event, data.topic)])
    finally:
        await bus.stop()
    return event.get_id()


async def _nc(nc: NcService, nc_id: str) -> dict[str, Any]:
    return dict((await nc.client.get(f"/v1/nonconformities/{nc_id}",
                                     headers=nc.auth("engineer"))).json())


@pytest.mark.requirement("iso9001-10.2.2", "cfr820-100b")
async def test_capa_opened_links_and_capa_closed_closes_the_nc(nc: NcService) -> None:
    item = (await nc.report(severity="critical", category="payments",
                            affected_item="checkout")).json()
    capa_id = uuid.uuid4()
    await _publish_capa_event(nc, CapaOpened(
        capa_id=capa_id, number="CAPA-2026-00001", title=item["title"],
        nonconformity_id=item["id"], severity=Severity.critical, opened_at=datetime.now(UTC)))

    async def linked() -> bool:
        return (await _nc(nc, item["id"]))["capa_link"] == "open"
    await eventually(linked, message="NC linked to its CAPA")
    assert (await _nc(nc, item["id"]))["capa_number"] == "CAPA-2026-00001"

    # The same problem again while the CAPA is open joins it: no new escalation.
    again = (await nc.report(severity="critical", category="Payments",
                             affected_item="Checkout", title="Checkout 500s again")).json()
    assert again["escalated_at"] is None and again["capa_id"] == str(capa_id)
    recurred = await nc.events(again["id"], "capaflow.nonconformity.recurred.v1")
    assert recurred[-1]["data"]["capa_id"] == str(capa_id)

    await _publish_capa_event(nc, CapaClosed(
        capa_id=capa_id, number="CAPA-2026-00001", nonconformity_ids=[item["id"], again["id"]],
        effectiveness_result="effective", effectiveness_evidence="no recurrence in 30 days",
        closed_by="test-manager", closed_at=datetime.now(UTC)))

    async def closed() -> bool:
        statuses = [(await _nc(nc, i))["status"] for i in (item["id"], again["id"])]
        return statuses == ["closed", "closed"]
    await eventually(closed, message="both NCs closed with their CAPA")
    first = await _nc(nc, item["id"])
    assert "CAPA-2026-00001" in first["resolution"] and "effective" in first["resolution"]
    assert first["capa_link"] == "closed"
    [event] = await nc.events(item["id"], "capaflow.nonconformity.closed.v1")
    assert event["data"]["capa_id"] == str(capa_id)
    history = (await nc.client.get(f"/v1/nonconformities/{item['id']}/history",
                                   headers=nc.auth("engineer"))).json()
    assert [h["action"] for h in history][-2:] == ["capa_opened", "closed"]


async def test_a_redelivered_capa_event_changes_nothing_twice(nc: NcService) -> None:
    item = (await nc.report(severity="major")).json()
    capa_id = uuid.uuid4()
    data = CapaClosed(capa_id=capa_id, number="CAPA-2026-00002",
                      nonconformity_ids=[item["id"]], effectiveness_result="effective",
                      closed_by="m", closed_at=datetime.now(UTC))
    settings: NonconformitySettings = nc.app.state.settings
    event = new_event(service="capa", data=data)
    bus = SqlBus(url=settings.bus_database_url)
    try:
        await bus.publish([to_record(event, data.topic), to_record(event, data.topic)])
    finally:
        await bus.stop()

    async def closed() -> bool:
        return (await _nc(nc, item["id"]))["status"] == "closed"
    await eventually(closed, message="NC closed")
    assert len(await nc.events(item["id"], "capaflow.nonconformity.closed.v1")) == 1


async def test_a_burst_of_recurrences_asks_for_one_capa(nc: NcService) -> None:
    ids = [(await nc.report(severity="minor", category="Valves", affected_item="Line 7",
                            title=f"Valve sticks {i}")).json()["id"] for i in range(6)]
    escalated = [i for i in ids if await nc.events(i, "capaflow.nonconformity.escalated.v1")]
    assert escalated == [ids[2]], "the third occurrence escalates, the later ones wait"
    waiting = [await _nc(nc, i) for i in ids[3:]]
    assert all(w["capa_link"] == "requested" and w["escalated_at"] is None for w in waiting)

    capa_id = uuid.uuid4()
    await _publish_capa_event(nc, CapaOpened(
        capa_id=capa_id, number="CAPA-2026-00003", title="Valve sticks",
        nonconformity_id=ids[2], severity=Severity.minor, opened_at=datetime.now(UTC)))

    async def all_joined() -> bool:
        links = [(await _nc(nc, i))["capa_id"] for i in ids[2:]]
        return links == [str(capa_id)] * 4
    await eventually(all_joined, message="waiting recurrences joined the CAPA")
    for i in ids[3:]:
        recurred = await nc.events(i, "capaflow.nonconformity.recurred.v1")
        assert recurred[-1]["data"]["capa_id"] == str(capa_id)
    assert [i for i in ids if await nc.events(i, "capaflow.nonconformity.escalated.v1")] == \
        [ids[2]]


async def test_a_cancelled_capa_releases_its_nc(nc: NcService) -> None:
    from shared.events.capa import CapaCancelled

    item = (await nc.report(severity="critical")).json()
    capa_id = uuid.uuid4()
    await _publish_capa_event(nc, CapaOpened(
        capa_id=capa_id, number="CAPA-2026-00009", title=item["title"],
        nonconformity_id=item["id"], severity=Severity.critical, opened_at=datetime.now(UTC)))

    async def linked() -> bool:
        return (await _nc(nc, item["id"]))["capa_link"] == "open"
    await eventually(linked, message="linked")
    await _publish_capa_event(nc, CapaCancelled(
        capa_id=capa_id, number="CAPA-2026-00009",
        severity=Severity.critical, nonconformity_ids=[item["id"]],
        reason="handled under another CAPA", cancelled_by="test-manager",
        cancelled_at=datetime.now(UTC)))

    async def released() -> bool:
        return (await _nc(nc, item["id"]))["capa_link"] == "none"
    await eventually(released, message="NC released by the cancellation")
    closed = await nc.client.post(f"/v1/nonconformities/{item['id']}/close",
                                  headers=nc.auth("manager"), json={"resolution": "see CAPA-8"})
    assert closed.status_code == 200, closed.text
