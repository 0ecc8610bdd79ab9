"""Every refusal of the nonconformity API, as the whole problem+json document
a client receives: status, title, detail, instance and extensions. The use
cases raise shared.errors and the edge maps them in one place; these pin that
the documents read exactly as they did when the service mapped them itself."""

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

from tests.integration.nonconformity.conftest import WEBHOOK_SECRET, NcService

WEBHOOKS = "/v1/intake/webhooks/ci"


def _problem(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"] == "application/problem+json", response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == response.status_code and body["type"] == "about:blank"
    return body


def _signed(body: bytes, msg_id: str | None = None) -> dict[str, str]:
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    now = datetime.now(UTC)
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(WEBHOOK_SECRET).sign(msg_id, now, body.decode()),
            "content-type": "application/json"}


async def test_an_unknown_nonconformity_is_a_404_naming_it(nc: NcService) -> None:
    missing = uuid.uuid4()
    for path in (f"/v1/nonconformities/{missing}", f"/v1/nonconformities/{missing}/history"):
        r = await nc.client.get(path, headers=nc.auth("reporter"))
        assert r.status_code == 404
        assert _problem(r) == {"type": "about:blank", "title": "Not Found", "status": 404,
                               "detail": f"No nonconformity {missing}.", "instance": path}
    path = f"/v1/nonconformities/{missing}/close"
    r = await nc.client.post(path, headers=nc.auth("engineer"), json={"resolution": "done"})
    assert _problem(r) == {"type": "about:blank", "title": "Not Found", "status": 404,
                           "detail": f"No nonconformity {missing}.", "instance": path}


async def test_a_duplicate_of_an_unknown_nc_names_the_unknown_one(nc: NcService) -> None:
    item = (await nc.report()).json()
    other = uuid.uuid4()
    path = f"/v1/nonconformities/{item['id']}/triage"
    r = await nc.client.post(path, headers=nc.auth("engineer") | {"If-Match": '"1"'},
                             json={"decision": "duplicate", "duplicate_of": str(other),
                                   "reason": "same ticket"})
    assert _problem(r) == {"type": "about:blank", "title": "Not Found", "status": 404,
                           "detail": f"No nonconformity {other}.", "instance": path}


async def test_a_refused_move_says_what_is_allowed(nc: NcService) -> None:
    item = (await nc.report(severity="critical")).json()  # escalated: its CAPA is asked for
    base = f"/v1/nonconformities/{item['id']}"
    r = await nc.client.post(f"{base}/close", headers=nc.auth("engineer"),
                             json={"resolution": "done"})
    assert _problem(r) == {
        "type": "about:blank", "title": "Not allowed now", "status": 409,
        "detail": "Its CAPA is not closed yet: the nonconformity closes when the CAPA is "
                  "closed after an effective verification.",
        "instance": f"{base}/close", "allowed": ["update", "triage", "correction"]}

    r = await nc.client.post(f"{base}/triage", headers=nc.auth("engineer") | {"If-Match": "*"},
                             json={"decision": "duplicate", "duplicate_of": item["id"],
                                   "reason": "seen before"})
    assert _problem(r) == {
        "type": "about:blank", "title": "Not allowed now", "status": 409,
        "detail": "A nonconformity cannot duplicate itself.",
        "instance": f"{base}/triage", "allowed": ["accept", "reject"]}

    r = await nc.client.post(f"{base}/reopen", headers=nc.auth("manager"),
                             json={"reason": "still broken"})
    assert _problem(r) == {
        "type": "about:blank", "title": "Not allowed now", "status": 409,
        "detail": "The nonconformity is already reported.", "instance": f"{base}/reopen",
        "allowed": ["update", "triage", "correction", "close"]}


async def test_webhook_refusals(nc: NcService) -> None:
    body = json.dumps({"event": {"id": "b-1", "title": "Nightly build broken"}}).encode()

    r = await nc.client.post("/v1/intake/webhooks/nope", content=body, headers=_signed(body))
    assert _problem(r) == {"type": "about:blank", "title": "Unknown source", "status": 404,
                           "detail": "No webhook source 'nope' is configured.",
                           "instance": "/v1/intake/webhooks/nope"}

    r = await nc.client.post(WEBHOOKS, content=body, headers={"content-type": "application/json"})
    problem = _problem(r)
    assert r.status_code == 401 and problem["title"] == "Invalid signature"
    assert problem["detail"].startswith("The webhook signature was not accepted: ")
    assert problem["instance"] == WEBHOOKS

    not_json = b"{not json"
    r = await nc.client.post(WEBHOOKS, content=not_json, headers=_signed(not_json))
    assert _problem(r) == {
        "type": "about:blank", "title": "Unmappable payload", "status": 422,
        "detail": "The payload could not be mapped: the signed body is not JSON (or is "
                  "nested too deeply).", "instance": WEBHOOKS}

    untitled = json.dumps({"something": "else"}).encode()
    r = await nc.client.post(WEBHOOKS, content=untitled, headers=_signed(untitled))
    assert _problem(r) == {
        "type": "about:blank", "title": "Unmappable payload", "status": 422,
        "detail": "The payload could not be mapped: the payload has no usable title at "
                  "'event.title'.", "instance": WEBHOOKS}

    headers = _signed(body)
    assert (await nc.client.post(WEBHOOKS, content=body, headers=headers)).status_code == 201
    other = json.dumps({"event": {"id": "b-2", "title": "Another build broken"}}).encode()
    r = await nc.client.post(WEBHOOKS, content=other,
                             headers=_signed(other, msg_id=headers["webhook-id"]))
    assert _problem(r) == {
        "type": "about:blank", "title": "Reused webhook-id", "status": 409,
        "detail": "This webhook-id was already received with another body; send a new event "
                  "under a new webhook-id.", "instance": WEBHOOKS}
    assert len(await nc.events(event_type="capaflow.nonconformity.reported.v1")) == 1
