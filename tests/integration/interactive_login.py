"""A person's access token from Keycloak's own login form, without a browser.

The password grant (tests/integration/test_oidc.py) gives tokens without
``auth_time``: Keycloak records an authentication time only for an interactive
login. Electronic signatures need it, so these tests sign in as a browser
would: the authorization-code flow with PKCE on the UI's client
(``capaflow-web``), the login form posted with the person's password, the code
taken from the redirect (nothing needs to listen there) and traded for tokens.
"""

import base64
import hashlib
import html
import re
import secrets
from urllib.parse import parse_qs, urlsplit

import httpx

# The test realm's UI client (deploy/keycloak/capaflow-realm.json; test secret).
CLIENT_ID = "capaflow-web"
CLIENT_SECRET = "capaflow-web-test-secret"
REDIRECT_URI = "http://127.0.0.1:9/signing-test/callback"
_FORM_ACTION = re.compile(r'<form[^>]*id="kc-form-login"[^>]*action="([^"]+)"')


async def interactive_token(realm_issuer: str, username: str, *,
                            password: str | None = None) -> str:
    """The access token of ``username`` after a fresh login (``prompt=login``)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(
        hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    endpoint = f"{realm_issuer}/protocol/openid-connect"
    async with httpx.AsyncClient(timeout=30) as http:
        page = await http.get(f"{endpoint}/auth", params={
            "response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI,
            "scope": "openid profile email", "state": secrets.token_urlsafe(16),
            "code_challenge": challenge, "code_challenge_method": "S256",
            "prompt": "login", "max_age": "0"})
        page.raise_for_status()
        found = _FORM_ACTION.search(page.text)
        assert found, "Keycloak showed no login form"
        # Keycloak marks its login cookies Secure, which httpx keeps from plain http;
        # a browser treats 127.0.0.1 as a secure context and sends them.
        cookies = "; ".join(f"{name}={value}" for name, value in page.cookies.items())
        answer = await http.post(html.unescape(found.group(1)), data={
            "username": username, "password": password or f"{username}-test-password",
            "credentialId": ""}, headers={"Cookie": cookies})
        assert answer.status_code == 302, f"login refused: {answer.status_code}"
        code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
        tokens = await http.post(f"{endpoint}/token", data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
            "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "code_verifier": verifier})
        tokens.raise_for_status()
    token: str = tokens.json()["access_token"]
    return token
