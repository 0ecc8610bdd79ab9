"""The UI's sign-in at an OpenID Connect provider, with the provider faked at the
seam (services/web/oidc_login.OidcLogin): the flow's bookkeeping (state, the
flow cookie, one use), the session it opens, and the refresh before expiry.
The real provider is in tests/e2e/test_oidc_browser.py."""

from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from services.web.oidc_login import Tokens
from shared.auth import Principal
from shared.db import utcnow
from tests.unit.web.conftest import FakeApi


class FakeLogin:
    provider_name = "Acme ID"

    def __init__(self) -> None:
        self.verifiers: list[str] = []
        self.refreshed: list[str] = []
        self.refresh_works = True

    async def authorization_url(self, *, redirect_uri: str, state: str, nonce: str,
                                code_verifier: str) -> str:
        assert redirect_uri == "http://testserver/sign-in/oidc/callback"
        self.verifiers.append(code_verifier)
        return f"https://id.example.test/auth?state={state}&nonce={nonce}"

    async def finish(self, *, redirect_uri: str, code: str, code_verifier: str,
                     nonce: str) -> tuple[Principal, Tokens]:
        assert code == "the-code" and code_verifier == self.verifiers[-1] and nonce
        principal = Principal(subject="mona", roles=frozenset({"manager"}), name="Mona Meyer",
                              method="oidc")
        # Expires within the refresh margin: the first API call refreshes it.
        return principal, Tokens("access-1", "refresh-1", utcnow() + timedelta(seconds=10))

    async def refresh(self, refresh_token: str) -> Tokens | None:
        self.refreshed.append(refresh_token)
        if not self.refresh_works:
            return None
        return Tokens("access-2", "refresh-2", utcnow() + timedelta(minutes=5))

    async def aclose(self) -> None:
        return None


@pytest.fixture
def login(ui: TestClient, fake_api: FakeApi) -> Iterator[FakeLogin]:
    fake = FakeLogin()
    ui.app.state.oidc_login = fake  # type: ignore[attr-defined]
    fake_api.on("GET", "/v1/subscriptions", httpx.Response(
        200, json={"items": [], "next_cursor": None}))
    yield fake


def start(ui: TestClient, next_path: str = "/subscriptions") -> str:
    """Clicks "Sign in with ..."; returns the state the provider was sent."""
    answer = ui.get("/sign-in/oidc", params={"next": next_path})
    assert answer.status_code == 303
    assert "httponly" in answer.headers["set-cookie"].lower()
    return parse_qs(urlsplit(answer.headers["location"]).query)["state"][0]


def test_the_sign_in_page_offers_the_provider_only_when_configured(ui: TestClient) -> None:
    assert "Sign in with" not in ui.get("/sign-in").text
    ui.app.state.oidc_login = FakeLogin()  # type: ignore[attr-defined]
    assert "Sign in with Acme ID" in ui.get("/sign-in").text


@pytest.mark.requirement("part11-11.10d")
def test_a_sign_in_opens_a_session_that_calls_with_the_access_token(
        ui: TestClient, login: FakeLogin, fake_api: FakeApi) -> None:
    state = start(ui)
    back = ui.get("/sign-in/oidc/callback", params={"code": "the-code", "state": state})
    assert back.status_code == 303 and back.headers["location"] == "/subscriptions"
    page = ui.get("/subscriptions")
    assert page.status_code == 200 and "Mona Meyer" in page.text
    # The token was about to expire: refreshed before the call, the new one sent.
    assert login.refreshed == ["refresh-1"]
    assert fake_api.requests[-1].headers["authorization"] == "Bearer access-2"
    ui.get("/subscriptions")
    assert login.refreshed == ["refresh-1"]  # fresh now: no second refresh


@pytest.mark.requirement("part11-11.10d")
def test_a_callback_with_another_state_or_replayed_is_refused(
        ui: TestClient, login: FakeLogin) -> None:
    state = start(ui)
    wrong = ui.get("/sign-in/oidc/callback", params={"code": "the-code", "state": "forged"})
    assert wrong.status_code == 400
    # The flow is spent by the failed attempt too: no second guess.
    again = ui.get("/sign-in/oidc/callback", params={"code": "the-code", "state": state})
    assert again.status_code == 400
    assert ui.get("/subscriptions").status_code == 303  # nobody signed in


def test_a_callback_without_this_browsers_flow_cookie_is_refused(
        ui: TestClient, login: FakeLogin) -> None:
    state = start(ui)
    ui.cookies.clear()  # a lured browser: it never started this sign-in
    answer = ui.get("/sign-in/oidc/callback", params={"code": "the-code", "state": state})
    assert answer.status_code == 400


def test_a_refused_refresh_ends_the_session(ui: TestClient, login: FakeLogin) -> None:
    state = start(ui)
    ui.get("/sign-in/oidc/callback", params={"code": "the-code", "state": state})
    login.refresh_works = False
    answer = ui.get("/subscriptions")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/sign-in")
    assert ui.get("/subscriptions").headers["location"].startswith("/sign-in")
