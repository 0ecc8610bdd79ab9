"""Signing a move in the UI (services/web/pages/signing.py), the provider faked at
the seam: the review page shows what will be signed, the provider is asked for a
fresh login, and the callback applies the move with the fresh token, for the
same person only."""

import json
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from fastapi.testclient import TestClient

from services.web.oidc_login import Tokens
from shared.auth import Principal
from shared.db import utcnow
from tests.unit.web.conftest import CSRF, FakeApi, sign_in
from tests.unit.web.fake_api import capa, root_cause

SIGNED = 'id="sign-reauthenticate" href="'


class FakeLogin:
    provider_name = "Acme ID"

    def __init__(self) -> None:
        self.verifiers: list[str] = []
        self.fresh: list[bool] = []
        self.who = "mona"

    async def authorization_url(self, *, redirect_uri: str, state: str, nonce: str,
                                code_verifier: str, fresh: bool = False) -> str:
        self.verifiers.append(code_verifier)
        self.fresh.append(fresh)
        extra = "&prompt=login&max_age=0" if fresh else ""
        return f"https://id.example.test/auth?state={state}&nonce={nonce}{extra}"

    async def finish(self, *, redirect_uri: str, code: str, code_verifier: str,
                     nonce: str) -> tuple[Principal, Tokens]:
        assert code_verifier == self.verifiers[-1]
        principal = Principal(subject=self.who, roles=frozenset({"manager"}),
                              name="Mona Meyer", method="oidc")
        return principal, Tokens(f"access-{code}", "refresh", utcnow() + timedelta(minutes=5))

    async def refresh(self, refresh_token: str) -> Tokens | None:
        return None

    async def aclose(self) -> None:
        return None


def serve_capa(fake_api: FakeApi, item: dict[str, Any]) -> list[dict[str, Any]]:
    """The capa endpoints the CAPA page and the review page read; returns the bodies
    of the moves the UI sends."""
    base = f"/v1/capas/{item['id']}"
    sent: list[dict[str, Any]] = []

    def move(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content) | {
            "_auth": request.headers["authorization"]})
        return httpx.Response(200, json=item)

    answers = {base: item, f"{base}/root-cause": root_cause(), f"{base}/actions": [],
               f"{base}/effectiveness-verifications": [],
               f"{base}/audit-trail": {"items": [], "next_cursor": None},
               f"{base}/audit-trail/verify": {"valid": True, "entries": 0},
               f"{base}/signatures/verify": {"valid": True, "signatures": 0, "broken": []},
               f"{base}/transitions": [{"to": "closed", "roles": ["manager"], "you_may": True,
                                        "ready": True, "blocked_by": None,
                                        "needs_reason": False, "needs_lesson": True}],
               "/v1/lessons": {"items": [], "next_cursor": None}}
    for path, body in answers.items():
        fake_api.on("GET", path, httpx.Response(200, json=body, headers={"ETag": '"1"'}))
    fake_api.on("POST", f"{base}/transitions", move)
    return sent


def oidc_session(ui: TestClient, login: FakeLogin) -> None:
    """Signs in at the (fake) provider, as a person does."""
    ui.app.state.oidc_login = login  # type: ignore[attr-defined]
    start = ui.get("/sign-in/oidc", params={"next": "/capas"})
    state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
    back = ui.get("/sign-in/oidc/callback", params={"code": "sign-in", "state": state})
    assert back.status_code == 303
    assert login.fresh == [False]  # signing in is no signature: no forced login


def review_closure(ui: TestClient, item: dict[str, Any]) -> tuple[str, str]:
    page = ui.get(f"/capas/{item['id']}")
    assert page.status_code == 200, page.text
    assert 'name="sign_meaning"' in page.text  # a person signed in at the provider
    token = CSRF.search(page.text)
    assert token
    review = ui.post(f"/capas/{item['id']}/transitions", data={
        "csrf_token": token.group(1), "to": "closed", "reason": "verified effective",
        "lesson": "State temperatures in seal specs", "lesson_tags": "seals",
        "sign_meaning": "approval"})
    assert review.status_code == 200, review.text
    url = review.text.split(SIGNED)[1].split('"')[0].replace("&amp;", "&")
    return review.text, parse_qs(urlsplit(url).query)["state"][0]


def test_signing_reviews_then_reauthenticates_then_applies_with_the_fresh_token(
        ui: TestClient, fake_api: FakeApi) -> None:
    login = FakeLogin()
    item = capa(status="verifying", allowed_transitions=["closed"])
    sent = serve_capa(fake_api, item)
    oidc_session(ui, login)
    text, state = review_closure(ui, item)
    # The person sees who signs, with which meaning, and exactly what.
    assert "You are about to sign as <strong>Mona Meyer</strong> (mona)" in text
    assert "Approval: I approve this" in text and "State temperatures in seal specs" in text
    assert login.fresh[-1] is True and "prompt=login" in text
    assert sent == []  # nothing applied before the re-authentication

    back = ui.get("/sign-in/oidc/callback", params={"code": "fresh", "state": state})
    assert back.status_code == 303 and back.headers["location"].endswith("#signatures")
    [move] = sent
    assert move["signature"] == {"meaning": "approval"}
    assert move["lesson"]["what_to_do_differently"] == "State temperatures in seal specs"
    assert move["_auth"] == "Bearer access-fresh"  # the re-authentication's token


def test_someone_else_reauthenticating_signs_nothing(ui: TestClient,
                                                     fake_api: FakeApi) -> None:
    login = FakeLogin()
    item = capa(status="verifying", allowed_transitions=["closed"])
    sent = serve_capa(fake_api, item)
    oidc_session(ui, login)
    _text, state = review_closure(ui, item)
    login.who = "mallory"
    back = ui.get("/sign-in/oidc/callback", params={"code": "fresh", "state": state})
    assert back.status_code == 303
    assert sent == []
    assert "was not yours; nothing was signed" in ui.get(f"/capas/{item['id']}").text


def test_an_api_key_session_is_told_it_cannot_sign(ui: TestClient, fake_api: FakeApi) -> None:
    ui.app.state.oidc_login = FakeLogin()  # type: ignore[attr-defined]
    item = capa(status="verifying", allowed_transitions=["closed"])
    sent = serve_capa(fake_api, item)
    csrf = sign_in(ui, "manager")
    page = ui.get(f"/capas/{item['id']}")
    assert 'name="sign_meaning"' not in page.text  # not offered
    refused = ui.post(f"/capas/{item['id']}/transitions", data={
        "csrf_token": csrf, "to": "closed", "lesson": "x", "sign_meaning": "approval"})
    assert refused.status_code == 403
    assert "an API-key session cannot sign" in refused.text
    assert sent == []
