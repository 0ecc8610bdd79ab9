"""The notifications API's watches and a person's own subscriptions, faked beside
fake_api.FakeApi (which answers the CAPA and NC APIs): enough for the Watch
button and the "My notifications" page."""

import json
import re
import uuid
from typing import Any

import httpx

from tests.unit.web.fake_api import KEYS, FakeApi, problem

WATCH = re.compile(r"^/v1/watches/(capas|nonconformities)/([^/]+)$")
SUB = re.compile(r"^/v1/subscriptions/([^/]+)$")


class FakeWatches:
    """Watches per person (subject ``test-<role>``), their own only, as the API keeps them."""

    def __init__(self, fake: FakeApi) -> None:
        self.subs: dict[str, dict[str, Any]] = {}
        self.no_email: set[str] = set()  # roles whose sign-in carries no address
        self.down = False
        self.fake = fake
        self._api = fake.handle
        fake.handle = self.handle  # type: ignore[method-assign]

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.host != "notifications.test":
            return self._api(request)
        self.fake.requests.append(request)
        if self.down:
            return problem(503, "The notifications service cannot be reached.")
        role = next((r for r, k in KEYS.items()
                     if request.headers.get("authorization") == f"Bearer {k}"), None)
        if role is None:
            return problem(401, "No valid key.")
        me, path = f"test-{role}", request.url.path
        body = json.loads(request.content) if request.content else {}
        if found := WATCH.match(path):
            return self._watch(request.method, me, role, *found.groups(), body)
        if path == "/v1/subscriptions" and request.method == "GET":
            owner = request.url.params.get("owner") if role in ("manager", "admin") else me
            items = [s for s in self.subs.values() if not owner or s["owner"] == owner]
            return httpx.Response(200, json={"items": items, "next_cursor": None})
        if found := SUB.match(path):
            sub = self.subs.get(found.group(1))
            if sub is None or sub["owner"] != me:
                return problem(404, "There is no such subscription you can see.")
            if request.method == "PATCH":
                sub |= body
                return httpx.Response(200, json=sub)
            if request.method == "DELETE":
                del self.subs[sub["id"]]
                return httpx.Response(204)
        return problem(404, f"Not faked: {request.method} {path}")

    def _watch(self, method: str, me: str, role: str, area: str, record_id: str,
               body: dict[str, Any]) -> httpx.Response:
        record = "capa" if area == "capas" else "nonconformity"
        mine = next((s for s in self.subs.values() if s["owner"] == me
                     and s["watch"] == {"record": record, "record_id": record_id}), None)
        if method == "GET":
            return httpx.Response(200, json=mine) if mine else problem(404, "Not watching.")
        if method == "DELETE":
            if mine:
                del self.subs[mine["id"]]
            return httpx.Response(204)
        if role in self.no_email:
            return problem(409, f"Your sign-in ({me}) carries no e-mail address, so "
                                "CAPAflow has nowhere to write to you.",
                           type="urn:capaflow:problem:no-email-address")
        if mine:
            return httpx.Response(200, json=mine)
        sub = {"id": str(uuid.uuid4()), "owner": me, "channel": "email",
               "target": f"{me}@corp.example", "filter": {f"{record}_id": record_id},
               "active": True, "mode": body.get("mode") or "immediate",
               "description": body.get("label"), "disabled_reason": None,
               "previous_secret_expires_at": None, "created_at": "2026-12-07T09:00:00Z",
               "updated_at": "2026-12-07T09:00:00Z",
               "watch": {"record": record, "record_id": record_id}}
        self.subs[sub["id"]] = sub
        return httpx.Response(201, json=sub)

    def ordinary(self, owner: str, **fields: Any) -> dict[str, Any]:
        """An ordinary (non-watch) subscription of ``owner``."""
        sub = {"id": str(uuid.uuid4()), "owner": owner, "channel": "webhook",
               "target": "https://erp.example/hook", "active": True, "mode": "immediate",
               "filter": {"event_types": ["capaflow.capa.*"], "min_severity": "major"},
               "description": None, "disabled_reason": None, "watch": None} | fields
        self.subs[sub["id"]] = sub
        return sub
