"""A fake of the notifications API's subscriptions and deliveries (for the UI's
subscription pages), and small helpers for fake API answers."""

import json
import uuid
from typing import Any

import httpx

from tests.unit.web.conftest import FakeApi


def problem(status: int, detail: str, errors: list[dict[str, str]] | None = None,
            title: str = "") -> httpx.Response:
    body: dict[str, Any] = {"status": status, "title": title or "Refused", "detail": detail}
    if errors is not None:
        body["errors"] = errors
    return httpx.Response(status, json=body, headers={"content-type": "application/problem+json"})


def sent(fake: FakeApi, method: str, path: str) -> list[httpx.Request]:
    return [r for r in fake.requests if r.method == method and r.url.path == path]


class FakeSubscriptions:
    """The notifications API's subscriptions and deliveries, enough for the pages."""

    def __init__(self, fake: FakeApi) -> None:
        self.fake = fake
        self.subs: dict[str, dict[str, Any]] = {}
        self.deliveries: list[dict[str, Any]] = []
        self.secrets = 0
        fake.on("POST", "/v1/subscriptions", self.create)
        fake.on("GET", "/v1/subscriptions", lambda r: httpx.Response(
            200, json={"items": list(self.subs.values()), "next_cursor": None}))
        fake.on("GET", "/v1/deliveries", lambda r: httpx.Response(
            200, json={"items": [d for d in self.deliveries
                                 if d["subscription_id"] == r.url.params["subscription_id"]],
                       "next_cursor": None}))

    def secret(self) -> str:
        self.secrets += 1
        return f"whsec_secret{self.secrets}"

    def create(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        sub_id = str(uuid.uuid4())
        sub = {"id": sub_id, "owner": body.get("owner", "manager@example.test"),
               "channel": body["channel"], "target": body["target"], "filter": body["filter"],
               "active": body["active"], "mode": body["mode"],
               "description": body.get("description"), "disabled_reason": None,
               "previous_secret_expires_at": None, "created_at": "2026-11-26T09:00:00Z",
               "updated_at": "2026-11-26T09:00:00Z"}
        self.subs[sub_id] = sub
        path = f"/v1/subscriptions/{sub_id}"
        self.fake.on("GET", path, lambda r: httpx.Response(200, json=self.subs[sub_id])
                     if sub_id in self.subs else problem(404, "No such subscription."))
        self.fake.on("PATCH", path, lambda r: self.patch(sub_id, r))
        self.fake.on("DELETE", path, lambda r: httpx.Response(
            204 if self.subs.pop(sub_id, None) else 404))
        self.fake.on("POST", f"{path}/rotate-secret", lambda r: httpx.Response(
            200, json={"secret": self.secret(),
                       "previous_secret_expires_at": "2026-11-27T09:00:00Z"}))
        self.fake.on("POST", f"{path}/test", lambda r: self.test_event(sub_id))
        return httpx.Response(201, json=sub | {"secret": self.secret()})

    def patch(self, sub_id: str, request: httpx.Request) -> httpx.Response:
        self.subs[sub_id] |= json.loads(request.content)
        return httpx.Response(200, json=self.subs[sub_id])

    def test_event(self, sub_id: str, status: str = "pending") -> httpx.Response:
        delivery = {"id": str(uuid.uuid4()), "subscription_id": sub_id, "event_id": "e1",
                    "event_type": "capaflow.notification.test.v1", "subject": sub_id,
                    "status": status, "attempts": 0, "next_attempt_at": None,
                    "last_attempt_at": None, "last_status_code": None, "last_error": None,
                    "delivered_at": None, "created_at": "2026-11-26T09:01:00Z"}
        self.deliveries.append(delivery)
        return httpx.Response(202, json=delivery)


def create_form(**fields: str) -> dict[str, str]:
    return {"channel": "webhook", "target": "https://erp.example/hook", "mode": "immediate",
            "active": "on", "idempotency_key": "form-1"} | fields
