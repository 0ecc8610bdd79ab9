"""What a browser meets when something is off: a session that ended while a form
was being sent, unknown addresses, GETs of form addresses, unreadable requests and
unreachable services. Always an HTML page or a redirect, never the framework's JSON."""

import json
import logging
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.web.deps import form_page
from tests.unit.web.conftest import KEYS, LOGIN, FakeApi, end_session, sign_in

CAPA_ID = str(uuid.uuid4())
ENDED = "Your session ended; sign in again. What you were sending was not saved."


def _html_page(answer: httpx.Response, status: int) -> str:
    assert answer.status_code == status, answer.text[:500]
    assert answer.headers["content-type"].startswith("text/html")
    assert '{"detail"' not in answer.text
    return answer.text


@pytest.mark.parametrize(("form", "page"), [
    (f"/capas/{CAPA_ID}/root-cause", f"/capas/{CAPA_ID}"),
    (f"/capas/{CAPA_ID}/actions/{uuid.uuid4()}", f"/capas/{CAPA_ID}"),
    (f"/nonconformities/{CAPA_ID}/triage", f"/nonconformities/{CAPA_ID}"),
    (f"/subscriptions/{CAPA_ID}/deliveries/{uuid.uuid4()}/retry", f"/subscriptions/{CAPA_ID}"),
    ("/capas", "/capas/new"),
    ("/nonconformities", "/nonconformities/new"),
    ("/subscriptions", "/subscriptions/new"),
])
def test_a_form_posted_without_a_session_comes_back_to_its_page(ui: TestClient, form: str,
                                                                page: str) -> None:
    answer = ui.post(form, data={"why": "typed text", "csrf_token": "x"})
    assert answer.status_code == 303
    location = httpx.URL(answer.headers["location"])
    assert location.path == "/sign-in"
    assert location.params["next"] == page and location.params["expired"] == "1"


def test_after_the_session_ended_the_sign_in_page_says_so_and_leads_back(
        ui: TestClient) -> None:
    csrf = sign_in(ui)
    end_session(ui)  # signed out elsewhere
    answer = ui.post(f"/capas/{CAPA_ID}/root-cause", data={"csrf_token": csrf, "op": "draft"})
    assert answer.status_code == 303
    page = ui.get(answer.headers["location"])
    assert page.status_code == 200 and ENDED in page.text
    assert f'name="next" value="/capas/{CAPA_ID}"' in page.text
    token = LOGIN.search(page.text)
    assert token
    done = ui.post("/sign-in", data={"api_key": KEYS["engineer"], "login_token": token.group(1),
                                     "next": f"/capas/{CAPA_ID}"})
    assert done.status_code == 303 and done.headers["location"] == f"/capas/{CAPA_ID}"


def test_a_page_asked_for_without_a_session_comes_back_with_no_lost_form_message(
        ui: TestClient) -> None:
    assert ui.get("/capas?owner=ann").headers["location"] == \
        "/sign-in?next=%2Fcapas%3Fowner%3Dann"
    assert ENDED not in ui.get("/sign-in?next=%2Fcapas").text
    # A form address outside the records' areas comes back to the start page.
    assert form_page("/sign-out") is None and form_page("/capas/new") == "/capas/new"


def test_a_revoked_key_on_a_form_post_comes_back_to_the_form_page(
        ui: TestClient, fake_api: FakeApi) -> None:
    csrf = sign_in(ui)
    fake_api.on("POST", f"/v1/capas/{CAPA_ID}/transitions",
                httpx.Response(401, json={"title": "Unauthorized"}))
    answer = ui.post(f"/capas/{CAPA_ID}/transitions", data={"csrf_token": csrf, "to": "x"})
    assert answer.headers["location"] == f"/sign-in?next=%2Fcapas%2F{CAPA_ID}&expired=1"


def test_unknown_addresses_are_html_404_pages(ui: TestClient) -> None:
    text = _html_page(ui.get("/nonesuch"), 404)
    assert "Page not found" in text
    _html_page(ui.get("/static/nonesuch.css"), 404)
    sign_in(ui)
    assert "Sign out" in _html_page(ui.get("/capas/x/y/z"), 404)  # the page frame stays


def test_a_get_of_a_form_address_goes_to_its_record(ui: TestClient) -> None:
    for form in ("transitions", "root-cause", "actions", "edit"):
        answer = ui.get(f"/capas/{CAPA_ID}/{form}")
        assert answer.status_code == 303, form
        assert answer.headers["location"] == f"/capas/{CAPA_ID}"
    assert ui.get(f"/nonconformities/{CAPA_ID}/triage").headers["location"] == \
        f"/nonconformities/{CAPA_ID}"
    assert ui.get(f"/subscriptions/{CAPA_ID}/rotate-secret").headers["location"] == \
        f"/subscriptions/{CAPA_ID}"


def test_other_wrong_methods_are_html_405_pages(ui: TestClient) -> None:
    answer = ui.put("/sign-in")
    assert "only receives forms" in _html_page(answer, 405)
    assert "GET" in answer.headers["allow"]
    _html_page(ui.post(f"/capas/{CAPA_ID}"), 405)


def test_get_sign_out_is_a_page_not_json(ui: TestClient) -> None:
    assert ui.get("/sign-out").headers["location"] == "/sign-in"
    csrf = sign_in(ui)
    page = _html_page(ui.get("/sign-out"), 200)
    assert 'aria-label="Sign out"' in page and f'value="{csrf}"' in page
    # A sign-out with no session left is no "session ended" detour.
    end_session(ui)
    assert ui.post("/sign-out", data={}).headers["location"] == "/sign-in"


def test_an_over_long_key_is_just_unknown_and_not_echoed(ui: TestClient) -> None:
    token = LOGIN.search(ui.get("/sign-in").text)
    assert token
    key = "k" * 5000
    answer = ui.post("/sign-in", data={"api_key": key, "login_token": token.group(1),
                                       "next": "/" + "n" * 5000})
    text = _html_page(answer, 401)
    assert "That API key is not known" in text and key not in text
    assert "n" * 5000 not in text


def test_request_validation_errors_are_html_422_without_the_input(
        ui: TestClient) -> None:
    app: FastAPI = ui.app  # type: ignore[assignment]

    @app.get("/probe")
    async def probe(n: int) -> str:  # a route with a typed parameter
        return str(n)

    text = _html_page(ui.get("/probe", params={"n": "<b>hostile</b>"}), 422)
    assert "could not be read" in text and "hostile" not in text


def test_an_unreachable_service_is_said_without_the_exception_class(
        ui: TestClient, fake_api: FakeApi, caplog: pytest.LogCaptureFixture) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    sign_in(ui)
    fake_api.on("GET", "/v1/lessons", refuse)
    with caplog.at_level(logging.WARNING, logger="services.web.client"):
        text = _html_page(ui.get("/lessons"), 503)
    assert "The capa service cannot be reached; try again in a moment." in text
    assert "ConnectError" not in text
    assert "ConnectError" in caplog.text  # the log keeps what went wrong


@pytest.mark.requirement("part11-11.10d")
def test_a_monitoring_source_token_cannot_sign_in(ui: TestClient, key_store: Path) -> None:
    """It may only send alerts: signed in, every page would be a 403 (an outside
    tester found exactly that)."""
    from shared.auth import hash_key, source_role

    store = json.loads(key_store.read_text())
    store["keys"].append({"sha256": hash_key("token-alertmanager"),
                          "subject": "alertmanager", "roles": [source_role("alertmanager")]})
    key_store.write_text(json.dumps(store))
    token = LOGIN.search(ui.get("/sign-in").text)
    assert token
    answer = ui.post("/sign-in", data={"api_key": "token-alertmanager",
                                       "login_token": token.group(1), "next": "/"})
    assert "monitoring source" in _html_page(answer, 403)
    assert "capaflow_session" not in answer.headers.get("set-cookie", "")
