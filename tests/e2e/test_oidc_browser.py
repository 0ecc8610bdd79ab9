"""Signing in to the web UI at a real OpenID Connect provider, in a real browser.

`make run`'s processes (SQLite, the sql bus) with every service and the UI pointed
at the Keycloak `make test` starts (deploy/keycloak/). Rita clicks "Sign in with
Keycloak", fills Keycloak's own login form, lands back signed in under her name,
reports a nonconformity (the UI sends her access token to the service) and sees
herself as its reporter; signing out ends the session.
"""

import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.conftest import unavailable
from tests.e2e.browser import Screenshots, chromium
from tests.e2e.test_run_services import SERVICES, services_running


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    issuer = os.environ.get("CAPAFLOW_TEST_OIDC_ISSUER")
    if not issuer:
        unavailable("Keycloak is not available (CAPAFLOW_TEST_OIDC_ISSUER; `make test` "
                    "starts it)")
    assert issuer
    env = {f"{svc.upper()}_OIDC_ISSUER": issuer for svc in SERVICES}
    env |= {"WEB_OIDC_ISSUER": issuer, "WEB_OIDC_CLIENT_ID": "capaflow-web",
            "WEB_OIDC_CLIENT_SECRET": "capaflow-web-test-secret",  # the test realm's
            "WEB_OIDC_PROVIDER_NAME": "Keycloak"}
    tmp: Path = tmp_path_factory.mktemp("oidc-browser")
    with services_running(env, tmp, web=True) as ports:
        yield f"http://127.0.0.1:{ports['web']}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as running:
        yield running


# `ui` before `browser`, as in test_web_browser.py (asyncio.run before Playwright).
@pytest.mark.requirement("part11-11.10d")
def test_sign_in_at_keycloak_then_report_as_oneself(ui: str, browser: Browser) -> None:
    shots = Screenshots(Screenshots().folder.parent / "oidc")
    context = browser.new_context(base_url=ui)
    context.set_default_timeout(20_000)
    try:
        page = context.new_page()
        page.goto("/nonconformities/new")
        expect(page).to_have_url(re.compile(r"/sign-in\?next="))
        page.get_by_role("link", name="Sign in with Keycloak").click()
        # Keycloak's own login page (its realm, on 127.0.0.1).
        expect(page).to_have_url(re.compile(r"/realms/capaflow/protocol/openid-connect/auth"))
        shots.take(page, "keycloak login")
        page.locator("#username").fill("rita")
        page.locator("#password").fill("rita-test-password")
        page.locator("#kc-login").click()
        # Back in CAPAflow, on the page asked for, under her name.
        expect(page).to_have_url(re.compile(r"/nonconformities/new$"))
        expect(page.get_by_role("status")).to_contain_text("Signed in as Rita Reyes")
        expect(page.locator(".who")).to_contain_text("Rita Reyes")
        shots.take(page, "signed in")
        title = f"Seal leaks on line 3 {uuid.uuid4().hex[:8]}"
        form = page.get_by_role("form", name="Report a nonconformity")
        form.get_by_label("Title").fill(title)
        form.get_by_label("Severity").select_option("minor")
        form.get_by_role("button", name="Report nonconformity").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text(title)
        # The service recorded the person the provider named.
        expect(page.locator("dt:has-text('Reported by') + dd")).to_contain_text("rita")
        shots.take(page, "reported")
        # Signing out ends the session: the next page asks for sign-in again.
        page.get_by_role("banner").get_by_role("button", name="Sign out").click()
        expect(page).to_have_url(re.compile(r"/sign-in$"))
        page.goto("/nonconformities")
        expect(page).to_have_url(re.compile(r"/sign-in\?next="))
    finally:
        context.close()
