"""Scorecards over a chosen period through the API, on SQLite and PostgreSQL: a
SCAR not yet due is never counted as missed, and a past period counts the items
open at its end, not those open now; the objective metric "supplier response
time" is measured from the SCARs and watched like the others."""

import uuid
from datetime import timedelta
from typing import Any

from services.capa.supplier_models import Scar
from shared.db import utcnow
from tests.integration.capa.scar_harness import (
    ScarDesk,
    complete_response,
    desk,
    mailbox,
)

__all__ = ["desk", "mailbox"]  # the fixtures, imported so pytest finds them here



async def _acme(desk: ScarDesk, since: Any, until: Any) -> dict[str, Any]:
    cards = await desk.client.get("/v1/suppliers/scorecards", headers=desk.as_("reporter"),
                                  params={"since": since.isoformat(),
                                          "until": until.isoformat()})
    assert cards.status_code == 200, cards.text
    return next(c for c in cards.json()["items"] if c["supplier_code"] == "acme-seals")


async def test_a_scar_not_yet_due_is_not_missed_and_a_past_period_counts_its_own_open_items(
        desk: ScarDesk) -> None:
    await desk.supplier()
    capa = await desk.open(title="Gaskets harden")
    named = await desk.client.patch(f"/v1/capas/{capa['id']}", json={"supplier_code": "acme-seals"},
                                    headers=desk.as_("engineer", **{"If-Match": '"1"'}))
    assert named.status_code == 200, named.text
    await desk.sent_scar(capa["id"])
    now = utcnow()
    # A period that runs past the SCAR's due date (14 days ahead): it is not late yet.
    ahead = await _acme(desk, now - timedelta(days=5), now + timedelta(days=20))
    assert ahead["scars_sent"] == 1 and ahead["on_time_closure"] is None
    assert ahead["open_items"] == 2  # the SCAR and its CAPA, open at that end
    # A period that ended yesterday: neither existed yet, whatever is open now.
    before = await _acme(desk, now - timedelta(days=30), now - timedelta(days=1))
    assert before["scars_sent"] == 0 and before["open_items"] == 0


async def test_an_objective_on_the_supplier_response_time_is_measured_and_watched(
        desk: ScarDesk) -> None:
    from services.capa.service.objective_watch import watch_objectives

    await desk.supplier()
    scar, token = await desk.sent_scar()
    assert (await desk.client.put("/v1/supplier-response", json=complete_response(),
                                  headers=desk.link(token))).status_code == 200
    assert (await desk.client.post("/v1/supplier-response/submission",
                                   headers=desk.link(token))).status_code == 200
    async with desk.app.state.runtime.sessions() as session:  # sent three days earlier
        row = await session.get(Scar, uuid.UUID(scar["id"]))
        assert row is not None and row.first_responded_at is not None
        row.sent_at = row.first_responded_at - timedelta(days=3)
        session.add(row)
        await session.commit()
    deadline = (utcnow().date() + timedelta(days=90)).isoformat()
    made = await desk.client.post("/v1/objectives", headers=desk.as_("manager"), json={
        "title": "Suppliers answer within a day", "metric": "supplier_response_days",
        "target": 1, "deadline": deadline})
    assert made.status_code == 201, made.text
    objective = made.json()
    assert objective["metric_label"].startswith("Supplier response time")
    assert objective["unit"] == "days" and objective["direction"] == "at_most"
    assert objective["progress"]["current"] == 3.0
    assert objective["progress"]["state"] == "off_track"
    narrowed = await desk.client.post("/v1/objectives", headers=desk.as_("manager"), json={
        "title": "x", "metric": "supplier_response_days", "source": "audit", "target": 5,
        "deadline": deadline})
    assert narrowed.status_code == 422
    # The watch job announces it like any other metric, once.
    sessions = desk.app.state.runtime.sessions
    assert (await watch_objectives(sessions, now=utcnow())).off_track == 1
    assert (await watch_objectives(sessions, now=utcnow())).off_track == 0
    [event] = await desk.events("capaflow.objective.off_track.v1")
    assert event["metric"] == "supplier_response_days" and event["current"] == 3.0
