"""Subscriptions and deliveries API: SSRF guard, roles, bad input, idempotency."""

from pathlib import Path

import pytest

from tests.conftest import BUS_MIGRATIONS, DatabaseFactory, migrate
from tests.integration.notifications.conftest import (
    NOTIFICATIONS_MIGRATIONS,
    Harness,
    Receiver,
    harness,
)


@pytest.mark.parametrize("target", [
    "http://10.0.0.1/hook", "http://169.254.169.254/latest/meta-data/",
    "http://192.168.1.10:8080/x", "http://[::1]/hook", "http://0.0.0.0/", "ftp://example.com/",
    "http://no-such-host.invalid/hook", "http://user:pw@127.0.0.1/hook",
])
async def test_ssrf_targets_are_refused(notifications: Harness, target: str) -> None:
    for channel in ("webhook", "slack"):
        response = await notifications.client.post(
            "/v1/subscriptions", json={"channel": channel, "target": target},
            headers=notifications.auth("reporter"))
        assert response.status_code == 422, (target, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["field"] == "target"


async def test_loopback_is_refused_without_an_allow_list(
        new_sqlite_database: DatabaseFactory, api_keys: tuple[Path, dict[str, str]],
        receiver: Receiver) -> None:
    url, bus_url = await new_sqlite_database(), await new_sqlite_database()
    await migrate(NOTIFICATIONS_MIGRATIONS, url)
    await migrate(BUS_MIGRATIONS, bus_url)
    async with harness(url, bus_url, *api_keys, allowed_networks=[]) as h:
        for target in (f"http://localhost:{receiver.port}/hook", receiver.url()):
            response = await h.client.post("/v1/subscriptions",
                                           json={"channel": "webhook", "target": target},
                                           headers=h.auth("admin"))
            assert response.status_code == 422, response.text
            assert "non-public" in response.json()["detail"]


async def test_send_time_guard_dead_letters_a_target_that_is_no_longer_allowed(
        new_sqlite_database: DatabaseFactory, api_keys: tuple[Path, dict[str, str]],
        receiver: Receiver) -> None:
    from tests.conftest import eventually

    url, bus_url = await new_sqlite_database(), await new_sqlite_database()
    await migrate(NOTIFICATIONS_MIGRATIONS, url)
    await migrate(BUS_MIGRATIONS, bus_url)
    async with harness(url, bus_url, *api_keys) as h:
        sub = await h.subscribe(target=receiver.url())
    # Same database, restarted without the allow-list: the send-time check refuses.
    async with harness(url, bus_url, *api_keys, allowed_networks=[]) as h:
        response = await h.client.post(f"/v1/subscriptions/{sub['id']}/test",
                                       headers=h.auth("reporter"))
        assert response.status_code == 202

        async def dead() -> bool:
            ds = await h.deliveries(status="dead_lettered")
            return len(ds) == 1

        await eventually(dead, timeout=10, message="refused at send time")
        [d] = await h.deliveries()
        assert d["attempts"] == 1 and "non-public" in d["last_error"]
    assert receiver.received == []


@pytest.mark.parametrize("body, field", [
    ({"channel": "fax", "target": "x"}, "body.channel"),
    ({"channel": "webhook"}, "body.target"),
    ({"channel": "webhook", "target": "http://127.0.0.1/", "colour": "red"}, "body.colour"),
    ({"channel": "webhook", "target": "http://127.0.0.1/",
      "filter": {"min_severity": "huge"}}, "body.filter.min_severity"),
    ({"channel": "webhook", "target": "http://127.0.0.1/",
      "filter": {"event_types": ["capa events; drop"]}}, "body.filter.event_types.0"),
    ({"channel": "webhook", "target": "http://127.0.0.1/",
      "filter": {"capa_id": "not-a-uuid"}}, "body.filter.capa_id"),
    ({"channel": "webhook", "target": "http://127.0.0.1/", "mode": "hourly"}, "body.mode"),
    ({"channel": "email", "target": "not an address"}, "target"),
])
async def test_bad_input_is_a_problem_with_the_field(notifications: Harness,
                                                     body: dict[str, object],
                                                     field: str) -> None:
    response = await notifications.client.post("/v1/subscriptions", json=body,
                                               headers=notifications.auth("reporter"))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    fields = {e["field"] for e in problem.get("errors", [])} | {problem.get("field")}
    assert field in fields


async def test_other_bad_requests(notifications: Harness) -> None:
    c, auth = notifications.client, notifications.auth("manager")
    assert (await c.get("/v1/subscriptions/not-a-uuid", headers=auth)).status_code == 422
    assert (await c.get("/v1/deliveries", params={"cursor": "%%%"},
                        headers=auth)).status_code == 422
    assert (await c.get("/v1/deliveries", params={"status": "lost"},
                        headers=auth)).status_code == 422
    assert (await c.get("/v1/deliveries", params={"limit": 10_000},
                        headers=auth)).status_code == 422
    response = await c.post("/v1/subscriptions", content=b"{not json",
                            headers=auth | {"content-type": "application/json"})
    assert response.status_code == 422
    email_sub = await notifications.subscribe("manager", channel="email",
                                              target="qa@example.com")
    assert email_sub["secret"] is None
    rotate = await c.post(f"/v1/subscriptions/{email_sub['id']}/rotate-secret", headers=auth)
    assert rotate.status_code == 409
    bad_overlap = await c.post(f"/v1/subscriptions/{email_sub['id']}/rotate-secret",
                               json={"overlap_seconds": -1}, headers=auth)
    assert bad_overlap.status_code == 422
    patch = await c.patch(f"/v1/subscriptions/{email_sub['id']}", json={"channel": "slack"},
                          headers=auth)
    assert patch.status_code == 422  # the channel cannot change; unknown fields are refused
    null = await c.patch(f"/v1/subscriptions/{email_sub['id']}", json={"target": None},
                         headers=auth)
    assert null.status_code == 422 and null.json()["field"] == "target"
    off = await c.patch(f"/v1/subscriptions/{email_sub['id']}", json={"active": False},
                        headers=auth)
    assert off.status_code == 200
    test = await c.post(f"/v1/subscriptions/{email_sub['id']}/test", headers=auth)
    assert test.status_code == 409


async def test_auth_matrix(notifications: Harness, receiver: Receiver) -> None:
    c, h = notifications.client, notifications
    body = {"channel": "webhook", "target": receiver.url()}
    assert (await c.post("/v1/subscriptions", json=body)).status_code == 401
    assert (await c.get("/v1/subscriptions",
                        headers={"Authorization": "Bearer nope"})).status_code == 401
    source = {"Authorization": f"Bearer {h.tokens['source:alertmanager']}"}
    assert (await c.post("/v1/subscriptions", json=body, headers=source)).status_code == 403
    assert (await c.get("/v1/deliveries", headers=source)).status_code == 403

    for role in ("reporter", "engineer", "verifier", "manager", "admin"):
        created = await h.subscribe(role, **body)
        assert created["owner"] == f"test-{role}"
    # Only managers (and admins) subscribe someone else.
    for role, status in (("reporter", 403), ("engineer", 403), ("manager", 201),
                         ("admin", 201)):
        response = await c.post("/v1/subscriptions", json=body | {"owner": "someone"},
                                headers=h.auth(role))
        assert response.status_code == status, (role, response.text)

    reporter_sub = (await c.get("/v1/subscriptions", headers=h.auth("reporter"))).json()
    assert [s["owner"] for s in reporter_sub["items"]] == ["test-reporter"]
    everyone = (await c.get("/v1/subscriptions", params={"limit": 200},
                            headers=h.auth("manager"))).json()
    assert len(everyone["items"]) == 7
    mine = reporter_sub["items"][0]["id"]
    managers = next(s["id"] for s in everyone["items"] if s["owner"] == "test-manager")
    # Someone else's subscription is invisible to a reporter...
    for method, path in (("GET", f"/v1/subscriptions/{managers}"),
                         ("PATCH", f"/v1/subscriptions/{managers}"),
                         ("DELETE", f"/v1/subscriptions/{managers}"),
                         ("POST", f"/v1/subscriptions/{managers}/test"),
                         ("POST", f"/v1/subscriptions/{managers}/rotate-secret")):
        response = await c.request(method, path, json={} if method == "PATCH" else None,
                                   headers=h.auth("reporter"))
        assert response.status_code == 404, (method, path, response.text)
    # ...and a manager may edit anyone's.
    response = await c.patch(f"/v1/subscriptions/{mine}", json={"active": False},
                             headers=h.auth("manager"))
    assert response.status_code == 200 and response.json()["active"] is False

    # Deliveries: the owner sees theirs, managers see all.
    test = await c.post(f"/v1/subscriptions/{managers}/test", headers=h.auth("manager"))
    delivery_id = test.json()["id"]
    assert (await c.get(f"/v1/deliveries/{delivery_id}",
                        headers=h.auth("reporter"))).status_code == 404
    assert (await c.post(f"/v1/deliveries/{delivery_id}/retry",
                         headers=h.auth("reporter"))).status_code == 404
    assert (await c.get("/v1/deliveries", headers=h.auth("reporter"))).json()["items"] == []
    assert (await c.get(f"/v1/deliveries/{delivery_id}",
                        headers=h.auth("admin"))).status_code == 200

    assert (await c.delete(f"/v1/subscriptions/{mine}",
                           headers=h.auth("reporter"))).status_code == 204
    assert (await c.get(f"/v1/subscriptions/{mine}",
                        headers=h.auth("reporter"))).status_code == 404


async def test_create_is_idempotent_and_lists_paginate(notifications: Harness,
                                                       receiver: Receiver) -> None:
    c, auth = notifications.client, notifications.auth("engineer")
    body = {"channel": "webhook", "target": receiver.url(), "description": "ERP"}
    key = {"Idempotency-Key": "create-erp-hook"}
    first = await c.post("/v1/subscriptions", json=body, headers=auth | key)
    again = await c.post("/v1/subscriptions", json=body, headers=auth | key)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    other = await c.post("/v1/subscriptions", json=body | {"description": "CRM"},
                         headers=auth | key)
    assert other.status_code == 422

    for _ in range(4):
        await notifications.subscribe("engineer", **body)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await c.get("/v1/subscriptions", params=params, headers=auth)).json()
        seen += [s["id"] for s in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 5
