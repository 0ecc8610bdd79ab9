"""Two UI apps on one session store behave as one UI: what a person did on one is
known to the other (the replicas of tests/e2e/test_web_replicas.py, in process)."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from services.web.app import create_app
from services.web.session import SESSION_COOKIE
from services.web.settings import WebSettings
from tests.unit.web.conftest import SESSION_CSRF, FakeApi, sign_in
from tests.unit.web.fake_notifications import FakeSubscriptions, create_form


@pytest.fixture
def other_ui(key_store: Path, fake_api: FakeApi, web_db_url: str) -> Iterator[TestClient]:
    """A second UI process on the same database as ``ui``."""
    settings = WebSettings(credentials_file=str(key_store), database_url=web_db_url)
    app = create_app(settings, transport=httpx.MockTransport(fake_api))
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as client:
        yield client


def _carry_cookie(source: TestClient, target: TestClient) -> None:
    # The browser sends its cookie to whichever replica the load balancer picks.
    target.cookies.set(SESSION_COOKIE, source.cookies[SESSION_COOKIE])


def test_a_session_opened_on_one_replica_serves_pages_and_forms_on_the_other(
        ui: TestClient, other_ui: TestClient, subs: FakeSubscriptions) -> None:
    csrf = sign_in(ui, "manager")
    _carry_cookie(ui, other_ui)
    page = other_ui.get("/subscriptions/new")
    assert page.status_code == 200 and "manager@example.test" in page.text
    found = SESSION_CSRF.search(page.text)
    assert found and found.group(1) == csrf
    created = other_ui.post("/subscriptions", data=create_form() | {"csrf_token": csrf})
    assert created.status_code == 303
    # The flash set on this replica and the secret it holds are shown by the first.
    shown = ui.get(created.headers["location"])
    assert "created." in shown.text and "whsec_secret1" in shown.text
    assert "whsec_secret1" not in other_ui.get(created.headers["location"]).text
    assert "created." not in other_ui.get(created.headers["location"]).text


def test_a_forged_token_is_refused_on_every_replica(ui: TestClient, other_ui: TestClient,
                                                    subs: FakeSubscriptions) -> None:
    sign_in(ui, "manager")
    _carry_cookie(ui, other_ui)
    refused = other_ui.post("/subscriptions", data=create_form() | {"csrf_token": "forged"})
    assert refused.status_code == 403 and subs.subs == {}


def test_sign_out_on_one_replica_ends_the_session_on_the_other(ui: TestClient,
                                                              other_ui: TestClient) -> None:
    csrf = sign_in(ui)
    _carry_cookie(ui, other_ui)
    assert other_ui.get("/lessons").status_code != 303
    assert other_ui.post("/sign-out", data={"csrf_token": csrf}).status_code == 303
    assert ui.get("/lessons").headers["location"] == "/sign-in?next=%2Flessons"


def test_an_unreachable_session_store_is_a_503_page(key_store: Path, fake_api: FakeApi) -> None:
    # Nothing listens on port 9: every connection is refused.
    settings = WebSettings(credentials_file=str(key_store),
                           database_url="postgresql+asyncpg://web@127.0.0.1:9/web")
    app = create_app(settings, transport=httpx.MockTransport(fake_api))
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as client:
        assert client.get("/sign-in").status_code == 200  # no cookie: nothing to look up
        assert client.get("/healthz").status_code == 200
        client.cookies.set(SESSION_COOKIE, "some-session-id")
        answer = client.get("/lessons")
        assert answer.status_code == 503 and answer.headers["retry-after"]
        assert "text/html" in answer.headers["content-type"]
        assert answer.headers["x-frame-options"] == "DENY"
