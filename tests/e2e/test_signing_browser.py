"""Signing an effectiveness verification in the web UI at a real provider, in Chromium.

`make run`'s processes pointed at the Keycloak `make test` starts. A CAPA is
brought to verifying through the API (tools' keys); Vera signs in at Keycloak,
fills the verification form choosing the meaning "Review", sees exactly what she
is about to sign, authenticates at Keycloak again (the provider asks for her
password although she has a session there) and lands back on the CAPA with her
signature shown and verified.
"""

import json
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import unavailable
from tests.e2e.browser import Screenshots, chromium
from tests.e2e.test_run_services import SERVICES, services_running


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, dict[str, str]]]:
    issuer = os.environ.get("CAPAFLOW_TEST_OIDC_ISSUER")
    if not issuer:
        unavailable("Keycloak is not available (CAPAFLOW_TEST_OIDC_ISSUER; `make test` "
                    "starts it)")
    assert issuer
    env = {f"{svc.upper()}_OIDC_ISSUER": issuer for svc in SERVICES}
    env |= {"WEB_OIDC_ISSUER": issuer, "WEB_OIDC_CLIENT_ID": "capaflow-web",
            "WEB_OIDC_CLIENT_SECRET": "capaflow-web-test-secret",  # the test realm's
            "WEB_OIDC_PROVIDER_NAME": "Keycloak", "CAPA_SIGNATURES_REQUIRED": "true"}
    tmp: Path = tmp_path_factory.mktemp("signing-browser")
    with services_running(env, tmp, web=True) as ports:
        creds = json.loads((tmp / "var" / "dev-credentials.json").read_text())
        yield (f"http://127.0.0.1:{ports['web']}", f"http://127.0.0.1:{ports['capa']}",
               creds["api_keys"])


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as running:
        yield running


def call(capa: str, keys: dict[str, str], method: str, path: str, role: str = "engineer",
         **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {keys[role]}"} | kwargs.pop("headers", {})
    response = httpx.request(method, capa + path, headers=headers, timeout=30, **kwargs)
    assert response.status_code in (200, 201), (method, path, response.text[:300])
    return response


def capa_to_verify(capa: str, keys: dict[str, str]) -> str:
    """A CAPA investigating with a submitted analysis, through the API: what a
    tool's key may do while signatures are required (approving it may not)."""
    capa_id = call(capa, keys, "POST", "/v1/capas",
                   json={"title": "Seal leak on line 3", "severity": "major"}).json()["id"]
    base = f"/v1/capas/{capa_id}"
    call(capa, keys, "POST", f"{base}/transitions", json={"to": "investigating"})
    etag = call(capa, keys, "GET", f"{base}/root-cause").headers["etag"]
    call(capa, keys, "PUT", f"{base}/root-cause", headers={"If-Match": etag}, json={
        "status": "submitted", "problem_statement": "Line 3 seals leak at 80 C",
        "whys": [{"why": "Why does it leak?", "because": "The gasket hardens"},
                 {"why": "Why?", "because": "The compound is not rated for 80 C"},
                 {"why": "Why?", "because": "The spec omits the temperature"}],
        "root_cause": "The gasket specification omits the operating temperature",
        "cause_category": "materials_supplier"})
    return str(capa_id)


def keycloak_login(page: Page, who: str) -> None:
    expect(page).to_have_url(re.compile(r"/realms/capaflow/"))
    expect(page.locator("#password")).to_be_visible()
    # Re-authenticating, Keycloak may show the known username instead of asking it.
    if page.locator("#username").is_visible():
        page.locator("#username").fill(who)
    page.locator("#password").fill(f"{who}-test-password")
    page.locator("#kc-login").click()


def sign(page: Page, shots: Screenshots, form: Any, meaning: str, button: str,
         who: str) -> None:
    form.get_by_label("Sign electronically, meaning").select_option(meaning)
    form.get_by_role("button", name=button).click()
    expect(page.locator("main")).to_contain_text("You are about to sign as")
    shots.take(page, f"review {button}")
    page.get_by_role("link", name="Re-authenticate at Keycloak and sign").click()
    # A session at Keycloak exists, yet it asks again (prompt=login, max_age=0).
    keycloak_login(page, who)
    expect(page.get_by_role("status")).to_contain_text("Signed.")


@pytest.mark.requirement("part11-11.50", "part11-11.200")
def test_a_person_reauthenticates_to_sign_and_sees_the_signature(
        ui: tuple[str, str, dict[str, str]], browser: Browser) -> None:
    web, capa, keys = ui
    capa_id = capa_to_verify(capa, keys)
    shots = Screenshots(Screenshots().folder.parent / "signing")
    context = browser.new_context(base_url=web)
    context.set_default_timeout(20_000)
    try:
        page = context.new_page()
        page.goto(f"/capas/{capa_id}")
        page.get_by_role("link", name="Sign in with Keycloak").click()
        keycloak_login(page, "erin")
        expect(page).to_have_url(re.compile(f"/capas/{capa_id}"))
        # Erin approves the analysis by planning actions, signing with "Approval".
        sign(page, shots, page.get_by_role("form", name="Mark actions planned"), "approval",
             "Mark actions planned", "erin")
        section = page.locator("#signatures")
        expect(section).to_contain_text("Signed by Erin")
        expect(section).to_contain_text("meaning: approval")
        expect(section).to_contain_text("Every signature matches what was signed (1)")
        shots.take(page, "approved")
    finally:
        context.close()
    # The rest of the path through the API, then Vera verifies in the browser.
    base = f"/v1/capas/{capa_id}"
    action = call(capa, keys, "POST", f"{base}/actions", json={
        "kind": "corrective", "description": "Add the temperature to the spec",
        "owner": "dev-engineer", "due_date": "2030-12-31"}).json()
    call(capa, keys, "POST", f"{base}/transitions", json={"to": "implementing"})
    call(capa, keys, "PATCH", f"{base}/actions/{action['id']}",
         headers={"If-Match": f'"{action["version"]}"'},
         json={"status": "done", "completion_evidence": "Spec rev C"})
    call(capa, keys, "POST", f"{base}/transitions", json={"to": "verifying"})
    call(capa, keys, "PUT", f"{base}/effectiveness-plan", json={
        "criteria": "No leak for 30 days", "check_date": datetime.now(UTC).date().isoformat()})
    context = browser.new_context(base_url=web)
    context.set_default_timeout(20_000)
    try:
        page = context.new_page()
        page.goto(f"/capas/{capa_id}")
        page.get_by_role("link", name="Sign in with Keycloak").click()
        keycloak_login(page, "vera")
        form = page.get_by_role("form", name="Record effectiveness verification")
        form.get_by_label("Evidence").fill("30 days of line data, 0 leaks")
        sign(page, shots, form, "review", "Record verification", "vera")
        section = page.locator("#signatures")
        expect(section).to_contain_text("Signed by Vera Vogt (vera)")
        expect(section).to_contain_text("meaning: review")
        expect(section).to_contain_text("Every signature matches what was signed (2)")
        shots.take(page, "verified")
    finally:
        context.close()
