"""A small in-memory stand-in for the nonconformity and CAPA APIs, served to the UI
through httpx.MockTransport, and the UI app signed in as one role.

It keeps the parts of the contracts the pages rely on: ETag / If-Match (428, 412
with current_etag), problem+json with field errors, roles per key (403), cursor
pages. Every request is recorded so tests can check what the UI sent.
"""

import json
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from services.web.app import create_app
from services.web.settings import WebSettings
from shared.auth import hash_key
from tests.conftest import running
from tests.unit.web.web_db import fresh_web_db

NC_URL, CAPA_URL = "http://nc.test", "http://capa.test"
ROLES = ("reporter", "engineer", "verifier", "manager", "admin")
KEYS = {role: f"key-{role}-{uuid.uuid4().hex}" for role in ROLES}
LOGIN = re.compile(r'name="login_token" value="([^"]+)"')
SESSION_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def problem(status: int, detail: str, errors: list[dict[str, str]] | None = None,
            **extra: Any) -> httpx.Response:
    body: dict[str, Any] = {"type": "about:blank", "title": "Problem", "status": status,
                            "detail": detail, **extra}
    if errors is not None:
        body["errors"] = errors
    return httpx.Response(status, json=body, headers={"content-type": "application/problem+json"})


def nonconformity(**overrides: Any) -> dict[str, Any]:
    nc_id = str(uuid.uuid4())
    base = {"id": nc_id, "number": "NC-2026-00001", "title": "Checkout returns 500",
            "description": "PayPal fails", "source": "support", "severity": "minor",
            "category": "payments", "affected_item": "shop", "external_ref": None,
            "reporter": None, "reported_by": "test-reporter", "occurred_at": None,
            "tags": ["paypal"], "links": [], "status": "reported", "owner": None,
            "version": 1, "occurrence_count": 1, "first_seen": "2026-01-01T00:00:00Z",
            "last_seen": "2026-01-01T00:00:00Z", "audit_ref": None, "triage_reason": None,
            "duplicate_of": None, "correction": None, "correction_by": None,
            "correction_at": None, "escalated_at": None, "capa_link": "none",
            "capa_id": None, "capa_number": None, "resolution": None,
            "created_at": "2026-01-01T00:00:00Z"}
    return base | overrides


def capa(**overrides: Any) -> dict[str, Any]:
    base = {"id": str(uuid.uuid4()), "number": "CAPA-2026-00001", "title": "Seal leak",
            "description": None, "kind": "corrective", "source": "internal",
            "severity": "major", "likelihood": 3, "risk_score": 12, "status": "open",
            "allowed_transitions": ["investigating", "cancelled"], "owner": "dev-engineer",
            "due_date": "2026-03-01", "overdue": False, "reopen_count": 0,
            "nonconformity_ids": [], "cause_category": None, "effectiveness_plan": None,
            "created_by": "test-engineer", "opened_at": "2026-01-01T00:00:00Z",
            "closed_at": None, "cancelled_at": None, "cancel_reason": None, "version": 1}
    return base | overrides


def root_cause(**overrides: Any) -> dict[str, Any]:
    return {"status": "draft", "problem_statement": None, "whys": [],
            "short_chain_justification": None, "root_cause": None, "cause_category": None,
            "contributing_factors": [], "submissions": 0, "updated_by": None,
            "updated_at": None, "version": 0} | overrides


@dataclass
class FakeApi:
    ncs: dict[str, dict[str, Any]] = field(default_factory=dict)
    capas: dict[str, dict[str, Any]] = field(default_factory=dict)
    analyses: dict[str, dict[str, Any]] = field(default_factory=dict)
    actions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by CAPA id
    verifications: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by CAPA
    trails: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by CAPA id
    requests: list[httpx.Request] = field(default_factory=list)
    # A refusal the next write answers with (to show how the UI presents it).
    refuse_next: httpx.Response | None = None
    # Past lessons GET /v1/lessons/similar offers (see similar_lesson), and the lesson
    # ids linked per CAPA.
    similar: list[dict[str, Any]] = field(default_factory=list)
    lesson_links: dict[str, list[str]] = field(default_factory=dict)
    # Recorded management reviews by id (GET /v1/management-reviews/{id}).
    reviews: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The supplier register (code -> supplier) the supplier fields offer and check.
    suppliers: dict[str, dict[str, Any]] = field(default_factory=dict)

    def writes(self) -> list[tuple[str, str, Any]]:
        return [(r.method, r.url.path, json.loads(r.content) if r.content else None)
                for r in self.requests if r.method != "GET"]

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        role = next((r for r, k in KEYS.items()
                     if request.headers.get("authorization") == f"Bearer {k}"), None)
        if role is None:
            return problem(401, "No valid key.")
        if request.method != "GET" and self.refuse_next is not None:
            refusal, self.refuse_next = self.refuse_next, None
            return refusal
        body = json.loads(request.content) if request.content else None
        if request.url.host == "nc.test":
            return self._nc(request, role, body)
        return self._capa(request, role, body)

    def _nc(self, request: httpx.Request, role: str, body: Any) -> httpx.Response:
        parts = request.url.path.strip("/").split("/")[2:]
        if not parts:
            if request.method == "POST":
                if len(body.get("title", "")) < 3:
                    return problem(422, "The request is not valid; see errors for each field.",
                                   [{"field": "body.title",
                                     "message": "String should have at least 3 characters"}])
                created = nonconformity(**{k: v for k, v in body.items() if k != "links"})
                self.ncs[created["id"]] = created
                return httpx.Response(201, json=created, headers={"etag": '"1"'})
            items = _nc_list(list(self.ncs.values()), request.url.params, f"test-{role}")
            more = "cursor" not in request.url.params
            return httpx.Response(200, json={"items": items, "total": len(items),
                                             "next_cursor": "page-2" if more else None})
        nc = self.ncs.get(parts[0])
        if nc is None:
            return problem(404, "No such nonconformity.")
        if request.method == "GET":
            if parts[1:] == ["history"]:
                return httpx.Response(200, json=[{"at": "2026-01-01T00:00:00Z",
                                                  "actor": "test-reporter",
                                                  "action": "reported", "changes": {},
                                                  "reason": None}])
            return httpx.Response(200, json=nc, headers={"etag": f'"{nc["version"]}"'})
        if role not in ("engineer", "manager", "admin"):
            return problem(403, "This needs one of the roles: engineer, manager.")
        if_match = request.headers.get("if-match")
        if not if_match:
            return problem(428, "Send the ETag you last read in an If-Match header.")
        if if_match != f'"{nc["version"]}"':
            return problem(412, "Someone changed this since you read it.",
                           current_etag=f'"{nc["version"]}"')
        if parts[1:] == ["triage"]:
            nc["status"] = "accepted" if body["decision"] == "accept" else body["decision"]
            nc["owner"] = body.get("owner", nc["owner"])
        elif parts[1:] == ["close"]:
            nc["status"] = "closed"
        elif parts[1:] == [] and request.method == "PATCH":
            nc.update({k: v for k, v in body.items() if k != "reason"})
        nc["version"] += 1
        return httpx.Response(200, json=nc, headers={"etag": f'"{nc["version"]}"'})

    def _capa(self, request: httpx.Request, role: str, body: Any) -> httpx.Response:
        if request.url.path == "/v1/actions":
            return self._actions_due(request.url.params, f"test-{role}")
        if request.url.path == "/v1/lessons/similar":
            return self._similar(request.url.params)
        if request.url.path.startswith("/v1/management-reviews/"):
            found = self.reviews.get(request.url.path.rsplit("/", 1)[1])
            return httpx.Response(200, json=found) if found else problem(404, "No review.")
        if request.url.path.startswith("/v1/suppliers"):
            return self._supplier(request)
        parts = request.url.path.strip("/").split("/")[2:]
        if not parts:
            if request.method == "POST":
                opened = capa(title=body["title"], severity=body["severity"],
                              kind=body["kind"],
                              nonconformity_ids=[body["nonconformity_id"]]
                              if body.get("nonconformity_id") else [])
                self.capas[opened["id"]] = opened
                return httpx.Response(201, json=opened, headers={"etag": '"1"'})
            items = _capa_list(list(self.capas.values()), request.url.params, f"test-{role}")
            return httpx.Response(200, json={"items": items, "total": len(items),
                                             "next_cursor": None})
        item = self.capas.get(parts[0])
        if item is None:
            return problem(404, "No such CAPA.")
        rest = parts[1:]
        if rest == [] and request.method == "GET":
            return httpx.Response(200, json=item, headers={"etag": f'"{item["version"]}"'})
        if rest == [] and request.method == "PATCH":
            if request.headers.get("if-match") != f'"{item["version"]}"':
                return problem(412, "Someone changed this since you read it.")
            item.update({k: v for k, v in body.items() if k != "reason"})
            item["version"] += 1
            return httpx.Response(200, json=item, headers={"etag": f'"{item["version"]}"'})
        if rest == ["root-cause"]:
            return self._root_cause(request, item["id"], body)
        if rest == ["lesson-links"]:
            return self._link(request, item["id"], role, body)
        if rest == ["actions"] and request.method == "GET":
            return httpx.Response(200, json=self.actions.get(item["id"], []))
        if rest == ["effectiveness-verifications"] and request.method == "GET":
            return httpx.Response(200, json=self.verifications.get(item["id"], []))
        if rest in (["actions"], ["effectiveness-verifications"], ["scars"]):
            return httpx.Response(200, json=[])
        if rest == ["audit-trail"]:
            return httpx.Response(200, json={"items": self.trails.get(item["id"], []),
                                             "next_cursor": None})
        if rest == ["audit-trail", "verify"]:
            return httpx.Response(200, json={"valid": True,
                                             "entries": len(self.trails.get(item["id"], [])),
                                             "first_broken_sequence": None, "problem": None})
        if rest == ["signatures", "verify"]:
            return httpx.Response(200, json={"valid": True, "signatures": 0, "broken": []})
        if rest == ["transitions"] and request.method == "GET":
            return httpx.Response(200, json=[_option(item, to, role)
                                             for to in item["allowed_transitions"]])
        if rest == ["transitions"]:
            item["status"] = body["to"]
            item["version"] += 1
            return httpx.Response(200, json=item)
        return problem(404, f"Not faked: {request.method} {request.url.path}")

    def _supplier(self, request: httpx.Request) -> httpx.Response:
        """GET /v1/suppliers (q finds name or code) and /v1/suppliers/{code} (any case)."""
        code = request.url.path.removeprefix("/v1/suppliers").strip("/")
        if not code:
            q = request.url.params.get("q", "").casefold()
            items = [s for s in self.suppliers.values()
                     if q in s["name"].casefold() or q in s["code"]]
            return httpx.Response(200, json={"items": items, "next_cursor": None})
        found = self.suppliers.get(code.lower().replace(" ", "-"))
        return httpx.Response(200, json=found) if found else problem(404, "No such supplier.")

    def _actions_due(self, params: httpx.QueryParams, me: str) -> httpx.Response:
        """GET /v1/actions: every CAPA's actions, soonest due first, with its number."""
        items = [a | {"capa_number": self.capas[capa_id]["number"],
                      "capa_title": self.capas[capa_id]["title"]}
                 for capa_id, actions in self.actions.items() for a in actions
                 if capa_id in self.capas]
        if params.get("mine") == "true":
            items = [a for a in items if a["owner"] == me]
        if params.get("open") == "true":
            items = [a for a in items if a["status"] not in ("done", "cancelled")]
        if params.get("overdue") == "true":
            items = [a for a in items if a.get("overdue")]
        items.sort(key=lambda a: (a["due_date"], a["id"]))
        return httpx.Response(200, json={"items": items[:int(params.get("limit", 50))],
                                         "total": len(items), "next_cursor": None})

    def _root_cause(self, request: httpx.Request, capa_id: str, body: Any) -> httpx.Response:
        saved = self.analyses.setdefault(capa_id, root_cause())
        etag = f'"{saved["version"]}"'
        if request.method == "GET":
            return httpx.Response(200, json=saved | {"capa_id": capa_id},
                                  headers={"etag": etag})
        if request.headers.get("if-match") != etag:
            return problem(412, "Someone changed this since you read it.", current_etag=etag)
        if body["status"] == "submitted" and len(body["whys"]) < 3:
            return problem(422, "The analysis is not complete enough to submit.",
                           [{"field": "whys", "message": "Ask 'why?' at least 3 times."},
                            {"field": "root_cause",
                             "message": "State the root cause before submitting."}])
        saved |= body | {"version": saved["version"] + 1, "updated_by": "test-engineer"}
        return httpx.Response(200, json=saved, headers={"etag": f'"{saved["version"]}"'})


    def _similar(self, params: httpx.QueryParams) -> httpx.Response:
        """GET /v1/lessons/similar: the canned lessons sharing a word with the text
        (any, with a capa_id), never the CAPA itself; ``linked`` as the links say."""
        if not params.get("text") and not params.get("capa_id"):
            return httpx.Response(200, json={"items": [], "terms": []})
        terms = [w for w in re.findall(r"\w+", params.get("text", "").lower()) if len(w) > 2]
        me = params.get("capa_id")
        linked = self.lesson_links.get(me or "", [])
        items = [item | {"linked": item.get("lesson_id") in linked} for item in self.similar
                 if item["capa_id"] != me and (me or any(
                     t in f"{item['title']} {item['problem']}".lower() for t in terms))]
        return httpx.Response(200, json={"items": items[:int(params.get("limit", 5))],
                                         "terms": terms or ["capa"]})

    def _link(self, request: httpx.Request, capa_id: str, role: str,
              body: Any) -> httpx.Response:
        links = self.lesson_links.setdefault(capa_id, [])
        by_id = {i["lesson_id"]: i for i in self.similar if i.get("lesson_id")}
        if request.method == "GET":
            return httpx.Response(200, json=[_link_view(by_id[i]) for i in links])
        if role not in ("engineer", "manager", "admin"):
            return problem(403, "This needs one of the roles: engineer, manager.")
        lesson = by_id.get(body.get("lesson_id"))
        if lesson is None:
            return problem(404, "There is no such lesson learned.")
        status = 200 if lesson["lesson_id"] in links else 201
        if status == 201:
            links.append(lesson["lesson_id"])
        return httpx.Response(status, json=_link_view(lesson))


def similar_lesson(**overrides: Any) -> dict[str, Any]:
    """One item of GET /v1/lessons/similar (a lesson unless kind says otherwise)."""
    base = {"kind": "lesson", "score": 0.5, "capa_id": str(uuid.uuid4()),
            "capa_number": "CAPA-2025-00007", "title": "Gateway timeout at checkout",
            "capa_status": "closed", "problem": "Payments timed out",
            "root_cause": "No retry budget", "cause_category": "process",
            "lesson_id": str(uuid.uuid4()), "what_to_do_differently": "Budget retries",
            "tags": [], "published_at": "2025-06-01T00:00:00Z", "linked": False}
    return base | overrides


def _link_view(lesson: dict[str, Any]) -> dict[str, Any]:
    return {"lesson_id": lesson["lesson_id"], "lesson_capa_id": lesson["capa_id"],
            "lesson_capa_number": lesson["capa_number"], "title": lesson["title"],
            "what_to_do_differently": lesson["what_to_do_differently"],
            "linked_by": "test-engineer", "linked_at": "2026-01-02T00:00:00Z"}


class Browser:
    """The UI app signed in as one role, posting forms with or without the CSRF token."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.http = client
        self.csrf = ""

    async def sign_in(self, role: str) -> None:
        page = await self.http.get("/sign-in")
        token = LOGIN.search(page.text)
        assert token, page.text[:500]
        signed = await self.http.post("/sign-in", data={"api_key": KEYS[role], "next": "/",
                                                        "login_token": token.group(1)})
        assert signed.status_code == 303, signed.text
        landing = await self.http.get("/capas")
        found = SESSION_CSRF.search(landing.text)
        assert found, landing.text[:500]
        self.csrf = found.group(1)

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.http.get(path, params=params)

    async def post(self, path: str, data: dict[str, str] | list[tuple[str, str]],
                   csrf: bool = True) -> httpx.Response:
        items = list(data.items()) if isinstance(data, dict) else list(data)
        if csrf:
            items.append(("csrf_token", self.csrf))
        return await self.http.post(path, content=urlencode(items), headers={
            "content-type": "application/x-www-form-urlencoded"})


@asynccontextmanager
async def ui_as(role: str, fake: FakeApi, tmp_path: Path) -> AsyncIterator[Browser]:
    store = tmp_path / f"keys-{uuid.uuid4().hex}.json"
    store.write_text(json.dumps({"keys": [{"sha256": hash_key(key), "subject": f"test-{r}",
                                           "roles": [r]} for r, key in KEYS.items()]}))
    settings = WebSettings(nonconformity_url=NC_URL, capa_url=CAPA_URL,
                           notifications_url="http://notifications.test",
                           credentials_file=str(store), database_url=fresh_web_db(tmp_path))
    app = create_app(settings, transport=httpx.MockTransport(fake.handle))
    async with running(app) as client:
        browser = Browser(client)
        await browser.sign_in(role)
        yield browser


def _option(item: dict[str, Any], to: str, role: str) -> dict[str, Any]:
    """What GET /v1/capas/{id}/transitions answers (roles as the CAPA service's
    workflow rules say; ``item["blocked"]`` names moves a guard refuses)."""
    if to in ("closed", "cancelled"):
        roles = ["manager"]
    elif item["status"] == "verifying" and to == "investigating":
        roles = ["engineer", "verifier", "manager"]
    else:
        roles = ["engineer", "manager"]
    blocked = item.get("blocked", {}).get(to)
    return {"to": to, "roles": roles, "you_may": role in roles or role == "admin",
            "ready": blocked is None, "blocked_by": blocked,
            "needs_reason": to == "cancelled" or (item["status"] == "verifying"
                                                  and to == "investigating"),
            "needs_lesson": to == "closed"}


def _nc_list(items: list[dict[str, Any]], params: httpx.QueryParams,
             me: str) -> list[dict[str, Any]]:
    """The filters of GET /v1/nonconformities the pages use, as the service reads them."""
    for name in ("status", "severity", "source", "owner", "external_ref"):
        if params.get(name):
            items = [nc for nc in items if nc[name] == params[name]]
    if params.get("capa"):
        items = [nc for nc in items if nc["capa_link"] == params["capa"]]
    if params.get("mine") in ("true", "false"):
        items = [nc for nc in items if (nc["owner"] == me) == (params["mine"] == "true")]
    if params.get("assigned") in ("true", "false"):
        items = [nc for nc in items
                 if (nc["owner"] is not None) == (params["assigned"] == "true")]
    if params.get("text"):
        needle = params["text"].lower()
        items = [nc for nc in items if needle in nc["title"].lower()
                 or needle in nc["number"].lower() or needle in (nc["external_ref"] or "").lower()]
    if params.get("sort", "-created_at").lstrip("-") == "severity":
        rank = {"critical": 0, "major": 1, "minor": 2, "observation": 3}
        items = sorted(items, key=lambda nc: rank[nc["severity"]],
                       reverse=not params["sort"].startswith("-"))
    return items


def _capa_list(items: list[dict[str, Any]], params: httpx.QueryParams,
               me: str) -> list[dict[str, Any]]:
    wanted = params.get_list("status")
    items = [c for c in items if not wanted or c["status"] in wanted]
    if params.get("mine") in ("true", "false"):
        items = [c for c in items if (c["owner"] == me) == (params["mine"] == "true")]
    if params.get("assigned") in ("true", "false"):
        items = [c for c in items if (c["owner"] is not None) == (params["assigned"] == "true")]
    if params.get("overdue") == "true":
        items = [c for c in items if c["overdue"]]
    return items
