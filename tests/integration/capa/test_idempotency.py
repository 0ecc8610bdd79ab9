"""Idempotency-Key on capa's creates (open, add action, verify effectiveness): the
same key and body replay the first response; another body, or the same body sent
to another CAPA, is 422; a duplicate of a request still running is 409 with
Retry-After."""

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from services.capa.api import capas as capa_routes
from services.capa.service.opening import open_capa
from tests.integration.capa.conftest import Capas

ACTION = {"kind": "corrective", "description": "Replace the gasket spec",
          "owner": "test-engineer", "due_date": "2026-12-31"}


def _key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


async def _listed(capas: Capas, path: str) -> list[Any]:
    listed = await capas.client.get(path, headers=capas.as_("reporter"))
    assert listed.status_code == 200, listed.text
    body = listed.json()
    return list(body["items"] if isinstance(body, dict) else body)


async def test_an_action_is_added_once_per_key(capas: Capas) -> None:
    capa = await capas.open()
    path = f"/v1/capas/{capa['id']}/actions"
    headers = capas.as_("engineer", **_key())
    first = await capas.client.post(path, json=ACTION, headers=headers)
    again = await capas.client.post(path, json=ACTION, headers=headers)
    assert first.status_code == again.status_code == 201, again.text
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert first.headers["location"] == f"{path}/{first.json()['id']}"
    other = await capas.client.post(path, json=ACTION | {"owner": "someone-else"},
                                    headers=headers)
    assert other.status_code == 422
    assert other.headers["content-type"] == "application/problem+json"
    assert len(await _listed(capas, path)) == 1


async def test_the_same_key_and_body_for_another_capa_is_refused_not_replayed(
        capas: Capas) -> None:
    """The CAPA is named in the path only: replaying the first CAPA's action
    for the second would be a wrong answer, so the key is refused instead."""
    first_capa, second_capa = await capas.open(), await capas.open()
    headers = capas.as_("engineer", **_key())
    first = await capas.client.post(f"/v1/capas/{first_capa['id']}/actions", json=ACTION,
                                    headers=headers)
    assert first.status_code == 201, first.text
    second = await capas.client.post(f"/v1/capas/{second_capa['id']}/actions", json=ACTION,
                                     headers=headers)
    assert second.status_code == 422, second.text
    assert await _listed(capas, f"/v1/capas/{second_capa['id']}/actions") == []


async def test_keys_are_per_caller(capas: Capas) -> None:
    key = _key()
    body = {"title": "Seal leak", "severity": "minor"}
    mine = await capas.client.post("/v1/capas", json=body, headers=capas.as_("engineer", **key))
    theirs = await capas.client.post("/v1/capas", json=body, headers=capas.as_("manager", **key))
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]


async def test_a_verification_is_recorded_once_per_key(capas: Capas) -> None:
    capa = await capas.open()
    await capas.to_verifying(capa["id"])
    path = f"/v1/capas/{capa['id']}/effectiveness-verifications"
    body = {"result": "effective", "evidence": "30 days of line data, 0 leaks"}
    headers = capas.as_("verifier", **_key())
    first = await capas.client.post(path, json=body, headers=headers)
    again = await capas.client.post(path, json=body, headers=headers)
    assert first.status_code == again.status_code == 201, again.text
    assert again.json() == first.json()
    assert len(await _listed(capas, path)) == 1


async def test_a_refused_create_frees_its_key(capas: Capas) -> None:
    """A request the use case refuses is not stored: the corrected one may use the key."""
    capa = await capas.open()
    headers = capas.as_("verifier", **_key())
    body = {"result": "effective", "evidence": "no leaks"}
    path = f"/v1/capas/{capa['id']}/effectiveness-verifications"
    refused = await capas.client.post(path, json=body, headers=headers)
    assert refused.status_code == 409, refused.text  # the CAPA is not being verified yet
    await capas.to_verifying(capa["id"])
    accepted = await capas.client.post(path, json=body, headers=headers)
    assert accepted.status_code == 201, accepted.text


@pytest.fixture
def held_open(monkeypatch: pytest.MonkeyPatch) -> tuple[asyncio.Event, asyncio.Event]:
    """Opening a CAPA waits for ``release`` once it has started (``entered``)."""
    entered, release = asyncio.Event(), asyncio.Event()
    real: Callable[..., Awaitable[Any]] = open_capa

    async def open_when_released(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        await release.wait()
        return await real(*args, **kwargs)

    monkeypatch.setattr(capa_routes, "open_capa", open_when_released)
    return entered, release


async def test_a_duplicate_of_a_running_create_is_409_with_retry_after(
        capas: Capas, held_open: tuple[asyncio.Event, asyncio.Event]) -> None:
    entered, release = held_open
    headers = capas.as_("engineer", **_key())
    body = {"title": "Seal leak", "severity": "minor"}
    first = asyncio.create_task(capas.client.post("/v1/capas", json=body, headers=headers))
    await asyncio.wait_for(entered.wait(), 30)
    duplicate = await capas.client.post("/v1/capas", json=body, headers=headers)
    release.set()
    answered: httpx.Response = await first
    assert duplicate.status_code == 409, duplicate.text
    assert int(duplicate.headers["retry-after"]) >= 1
    assert answered.status_code == 201, answered.text
    retried = await capas.client.post("/v1/capas", json=body, headers=headers)
    assert retried.status_code == 201 and retried.json()["id"] == answered.json()["id"]
    assert retried.headers["idempotent-replayed"] == "true"


@pytest.mark.parametrize("key", ["", "x" * 256])
async def test_a_malformed_key_is_refused_before_anything_runs(capas: Capas, key: str) -> None:
    """Declared in the OpenAPI like the other services' Idempotency-Key: 422."""
    body = {"title": "Seal leak", "severity": "minor"}
    refused = await capas.client.post("/v1/capas", json=body,
                                      headers=capas.as_("engineer", **{"Idempotency-Key": key}))
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert await _listed(capas, "/v1/capas") == []


async def test_the_creates_document_the_header(capas: Capas) -> None:
    spec = (await capas.client.get("/openapi.json")).json()
    for path in ("/v1/capas", "/v1/capas/{capa_id}/actions",
                 "/v1/capas/{capa_id}/effectiveness-verifications"):
        headers = {p["name"] for p in spec["paths"][path]["post"]["parameters"]
                   if p["in"] == "header"}
        assert "Idempotency-Key" in headers, path
