"""Sign-in, sessions and CSRF of the web UI (against a fake API)."""

import httpx
import pytest
from fastapi.testclient import TestClient

from services.web.session import LOGIN_CSRF_COOKIE, SESSION_COOKIE
from tests.unit.web.conftest import KEYS, LOGIN, FakeApi, session_csrf, sign_in


def test_pages_ask_for_sign_in_and_come_back_after(ui: TestClient) -> None:
    answer = ui.get("/?from=mail")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/sign-in?next=%2F%3Ffrom%3Dmail"
    page = ui.get(answer.headers["location"])
    assert 'value="/?from=mail"' in page.text
    token = LOGIN.search(page.text)
    assert token
    done = ui.post("/sign-in", data={"api_key": KEYS["engineer"], "login_token": token.group(1),
                                     "next": "/?from=mail"})
    assert done.status_code == 303 and done.headers["location"] == "/?from=mail"


def test_session_cookie_is_httponly_samesite_and_carries_no_key(ui: TestClient) -> None:
    page = ui.get("/sign-in")
    token = LOGIN.search(page.text)
    assert token
    answer = ui.post("/sign-in", data={"api_key": KEYS["manager"],
                                       "login_token": token.group(1)})
    cookie = next(c for c in answer.headers.get_list("set-cookie")
                  if c.startswith(f"{SESSION_COOKIE}="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert KEYS["manager"] not in cookie
    assert answer.headers["location"] == "/"
    # Everyone starts at their own work (issue 16), the manager's overdue and unowned items.
    home = ui.get("/")
    assert home.status_code == 200 and "Overdue CAPAs" in home.text


@pytest.mark.requirement("part11-11.10d")
def test_unknown_key_is_refused(ui: TestClient) -> None:
    token = LOGIN.search(ui.get("/sign-in").text)
    assert token
    answer = ui.post("/sign-in", data={"api_key": "guess", "login_token": token.group(1)})
    assert answer.status_code == 401 and "not known" in answer.text
    assert SESSION_COOKIE not in answer.cookies


def test_sign_in_without_its_csrf_cookie_is_refused(ui: TestClient) -> None:
    ui.get("/sign-in")
    ui.cookies.delete(LOGIN_CSRF_COOKIE, path="/sign-in")
    answer = ui.post("/sign-in", data={"api_key": KEYS["engineer"], "login_token": "forged"})
    assert answer.status_code == 403
    assert SESSION_COOKIE not in answer.cookies


def test_sign_in_never_redirects_off_site(ui: TestClient) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        token = LOGIN.search(ui.get("/sign-in").text)
        assert token
        answer = ui.post("/sign-in", data={"api_key": KEYS["engineer"], "next": target,
                                           "login_token": token.group(1)})
        assert answer.headers["location"] == "/", target


@pytest.mark.requirement("part11-11.10d")
def test_sign_out_needs_the_session_csrf_token_and_ends_the_session(ui: TestClient) -> None:
    token = sign_in(ui)
    assert ui.post("/sign-out", data={"csrf_token": "forged"}).status_code == 403
    assert ui.get("/").status_code == 200  # still signed in: the start page
    assert ui.post("/sign-out", data={"csrf_token": token}).status_code == 303
    assert ui.get("/").headers["location"] == "/sign-in?next=%2F"


def test_a_new_sign_in_gets_a_new_session_id(ui: TestClient) -> None:
    sign_in(ui)
    first = ui.cookies.get(SESSION_COOKIE)
    sign_in(ui, role="manager")
    assert ui.cookies.get(SESSION_COOKIE) not in (None, first)


@pytest.mark.requirement("part11-11.10d")
def test_a_revoked_key_ends_the_session(ui: TestClient, fake_api: FakeApi) -> None:
    sign_in(ui)
    fake_api.on("GET", "/v1/lessons", httpx.Response(401, json={"title": "Unauthorized"}))
    answer = ui.get("/lessons")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/sign-in")
    assert ui.get("/").headers["location"].startswith("/sign-in")


def test_pages_send_security_headers(ui: TestClient) -> None:
    page = ui.get("/sign-in")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"


def test_the_signed_in_page_carries_the_session_token(ui: TestClient) -> None:
    token = sign_in(ui)
    assert session_csrf(ui) == token and len(token) >= 32
