"""The subscription form names its NC and CAPA by number (pages/nc_refs.py): resolved
to the ids the notifications API wants; a number that names nothing is a message at
its field, and nothing is sent."""

import json
import uuid

import httpx
from fastapi.testclient import TestClient

from tests.unit.web.conftest import FakeApi, sign_in
from tests.unit.web.fake_notifications import FakeSubscriptions, create_form, sent

NC_ID, CAPA_ID = str(uuid.uuid4()), str(uuid.uuid4())


def _lists(fake_api: FakeApi) -> None:
    def ncs(request: httpx.Request) -> httpx.Response:
        text = request.url.params.get("text", "")
        hit = text and text.upper() in "NC-2026-00042"
        return httpx.Response(200, json={"items": [{"id": NC_ID, "number": "NC-2026-00042",
                                                    "status": "accepted",
                                                    "title": "Seal leak"}] if hit else [],
                                         "total": int(bool(hit)), "next_cursor": None})

    def capas(request: httpx.Request) -> httpx.Response:
        hit = request.url.params.get("number") == "CAPA-2026-00017"
        return httpx.Response(200, json={"items": [{"id": CAPA_ID}] if hit else [],
                                         "total": int(hit), "next_cursor": None})

    fake_api.on("GET", "/v1/nonconformities", ncs)
    fake_api.on("GET", "/v1/capas", capas)


def test_numbers_are_sent_as_ids(ui: TestClient, fake_api: FakeApi,
                                 subs: FakeSubscriptions) -> None:
    _lists(fake_api)
    csrf = sign_in(ui, "manager")
    answer = ui.post("/subscriptions", data=create_form(
        nonconformity_id="nc-2026-42", capa_id="CAPA-2026-17") | {"csrf_token": csrf})
    assert answer.status_code == 303, answer.text[:2000]
    body = json.loads(sent(fake_api, "POST", "/v1/subscriptions")[-1].content)
    assert body["filter"] == {"nonconformity_id": NC_ID, "capa_id": CAPA_ID}


def test_unknown_numbers_are_messages_at_their_fields(ui: TestClient, fake_api: FakeApi,
                                                      subs: FakeSubscriptions) -> None:
    _lists(fake_api)
    csrf = sign_in(ui, "manager")
    answer = ui.post("/subscriptions", data=create_form(
        nonconformity_id="NC-2026-00999", capa_id="17") | {"csrf_token": csrf})
    assert answer.status_code == 422
    assert "There is no nonconformity NC-2026-00999." in answer.text
    assert "“17” is not a CAPA number." in answer.text
    assert not sent(fake_api, "POST", "/v1/subscriptions")
