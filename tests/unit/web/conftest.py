"""The UI app against a fake API (httpx.MockTransport) and a temporary key store."""

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi.testclient import TestClient

from services.web.app import create_app
from services.web.settings import WebSettings
from shared.auth import hash_key
from tests.unit.web.web_db import fresh_web_db

if TYPE_CHECKING:
    from tests.unit.web.fake_notifications import FakeSubscriptions

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
LOGIN = re.compile(r'name="login_token" value="([^"]+)"')
SESSION_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
KEYS = {"engineer": "key-engineer", "manager": "key-manager", "reporter": "key-reporter",
        "verifier": "key-verifier", "admin": "key-admin"}

Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def key_store(tmp_path: Path) -> Path:
    path = tmp_path / "api-keys.json"
    path.write_text(json.dumps({"keys": [
        {"sha256": hash_key(key), "subject": f"{role}@example.test", "roles": [role]}
        for role, key in KEYS.items()]}))
    return path


class FakeApi:
    """Routes (method, path) to canned answers and records every request the UI sent."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Handler] = {}
        self.requests: list[httpx.Request] = []

    def on(self, method: str, path: str, handler: Handler | httpx.Response) -> None:
        self.routes[(method, path)] = handler if callable(handler) else (lambda _r: handler)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        handler = self.routes.get((request.method, request.url.path))
        if handler is None:
            return httpx.Response(404, json={"title": "Not Found", "detail": "no such route"})
        return handler(request)


@pytest.fixture
def fake_api() -> FakeApi:
    return FakeApi()


@pytest.fixture
def web_db_url(tmp_path: Path) -> str:
    return fresh_web_db(tmp_path)


@pytest.fixture
def ui(key_store: Path, fake_api: FakeApi, web_db_url: str) -> Iterator[TestClient]:
    settings = WebSettings(credentials_file=str(key_store), database_url=web_db_url)
    app = create_app(settings, transport=httpx.MockTransport(fake_api))
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as client:
        yield client


def sign_in(client: TestClient, role: str = "engineer", next_path: str = "/") -> str:
    """Signs in through the form; returns the session's CSRF token."""
    page = client.get("/sign-in", params={"next": next_path})
    token = LOGIN.search(page.text)
    assert token
    answer = client.post("/sign-in", data={"api_key": KEYS[role], "login_token": token.group(1),
                                           "next": next_path})
    assert answer.status_code == 303, answer.text
    return session_csrf(client)


def session_csrf(client: TestClient) -> str:
    # Signed-in pages carry the session's token in a meta tag (and in every form).
    found = SESSION_CSRF.search(client.get("/sign-in").text)
    assert found, "not signed in"
    return found.group(1)


@pytest.fixture
def subs(fake_api: FakeApi) -> "FakeSubscriptions":
    from tests.unit.web.fake_notifications import FakeSubscriptions

    return FakeSubscriptions(fake_api)


def end_session(client: TestClient) -> None:
    """Ends the client's session in the store, as a sign-out in another tab would."""
    from services.web.session import SESSION_COOKIE

    assert client.portal is not None, "use the client inside its `with` block"
    app: Any = client.app
    client.portal.call(app.state.sessions.close, client.cookies.get(SESSION_COOKIE))
