"""The services take a real provider's access tokens (Keycloak, started by
`make test` from deploy/keycloak/, realm deploy/keycloak/capaflow-realm.json).

Tokens come from the password grant of the test-only client ``capaflow-tests``
(a browser is not needed to get a person's token); the browser sign-in of the
UI is tests/e2e/test_oidc_browser.py.
"""

import base64
import hashlib
import hmac
import json
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from shared.oidc import TokenVerifier
from shared.oidc_claims import OidcConfig
from tests.conftest import BUS_MIGRATIONS, DatabaseFactory, migrate, unavailable
from tests.integration.nonconformity.conftest import NcService, start_nc_service


def issuer() -> str:
    value = os.environ.get("CAPAFLOW_TEST_OIDC_ISSUER")
    if not value:
        unavailable("Keycloak is not available (CAPAFLOW_TEST_OIDC_ISSUER; run the tests "
                    "with `make test`, or deploy/keycloak/keycloak.sh up)")
    assert value
    return value


async def password_token(realm_issuer: str, username: str, password: str | None = None,
                         client_id: str = "capaflow-tests") -> str:
    """A person's access token through the password grant (test-only client)."""
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(f"{realm_issuer}/protocol/openid-connect/token", data={
            "grant_type": "password", "client_id": client_id, "username": username,
            "password": password or f"{username}-test-password", "scope": "openid"})
    if response.status_code != 200:
        unavailable(f"Keycloak at {realm_issuer} gave no token: {response.status_code} "
                    f"{response.text[:200]}")
    token: str = response.json()["access_token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def b64(raw: bytes | dict[str, Any]) -> str:
    data = raw if isinstance(raw, bytes) else json.dumps(raw).encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    header, payload, signature = token.split(".")
    decode = lambda s: json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))  # noqa: E731
    return decode(header), decode(payload), signature


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def nc(new_sqlite_database: DatabaseFactory,
             api_keys: tuple[Path, dict[str, str]]) -> AsyncIterator[NcService]:
    realm = issuer()
    bus_url = await new_sqlite_database()
    await migrate(BUS_MIGRATIONS, bus_url)
    async for service in start_nc_service(await new_sqlite_database(), bus_url, *api_keys,
                                          oidc_issuer=realm):
        yield service


def use_verifier(nc: NcService, **kwargs: Any) -> TokenVerifier:
    """Swaps the service's verifier for one with a clock the test moves."""
    verifier = TokenVerifier(nc.app.state.oidc.config, **kwargs)
    nc.app.state.oidc = verifier
    return verifier


@pytest.mark.requirement("part11-11.10d", "part11-11.10e")
async def test_a_persons_token_writes_and_the_record_names_them(nc: NcService) -> None:
    realm = issuer()
    rita = await password_token(realm, "rita")
    created = await nc.client.post("/v1/nonconformities", headers=bearer(rita),
                                   json={"title": "Seal leaks on line 3", "severity": "minor"})
    assert created.status_code == 201, created.text
    assert created.json()["reported_by"] == "rita"
    nc_id = created.json()["id"]
    erin = await password_token(realm, "erin")
    corrected = await nc.client.post(f"/v1/nonconformities/{nc_id}/correction",
                                     headers=bearer(erin), json={"correction": "Line stopped"})
    assert corrected.status_code == 200, corrected.text
    history = (await nc.client.get(f"/v1/nonconformities/{nc_id}/history",
                                   headers=bearer(erin))).json()
    assert [h["actor"] for h in history][-1] == "erin"
    # API keys keep working beside tokens (tools use them).
    assert (await nc.report("reporter")).status_code == 201


@pytest.mark.requirement("part11-11.10g")
async def test_a_reporters_token_cannot_do_an_engineers_write(nc: NcService) -> None:
    rita = await password_token(issuer(), "rita")
    created = await nc.client.post("/v1/nonconformities", headers=bearer(rita),
                                   json={"title": "Label misprint", "severity": "minor"})
    refused = await nc.client.post(f"/v1/nonconformities/{created.json()['id']}/correction",
                                   headers=bearer(rita), json={"correction": "Reprinted"})
    assert refused.status_code == 403
    assert "engineer" in refused.json()["detail"]
    # A person with no CAPAflow role in the realm reads nothing either.
    nora = await password_token(issuer(), "nora")
    assert (await nc.client.get("/v1/nonconformities", headers=bearer(nora))).status_code == 403


async def refused(nc: NcService, token: str) -> str:
    response = await nc.client.get("/v1/nonconformities", headers=bearer(token))
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    detail: str = response.json()["detail"]
    return detail


@pytest.mark.requirement("part11-11.10d")
async def test_foreign_forged_and_tampered_tokens_are_401(nc: NcService) -> None:
    realm = issuer()
    erin = await password_token(realm, "erin")
    header, payload, signature = parts(erin)
    # Meant for another application: no capaflow-api audience.
    other_app = await password_token(realm, "erin", client_id="capaflow-tests-foreign")
    assert "aud" in await refused(nc, other_app)
    # Another issuer on the same Keycloak (its master realm, whose keys differ).
    master = realm.rsplit("/realms/", 1)[0] + "/realms/master"
    assert "key" in await refused(
        nc, await password_token(master, "admin", "admin", client_id="admin-cli"))
    # More roles written into the payload: the signature no longer matches.
    payload["realm_access"] = {"roles": ["admin"]}
    assert "signature" in await refused(nc, f"{b64(header)}.{b64(payload)}.{signature}")
    # alg none, with the real kid.
    assert "'none'" in await refused(nc, f"{b64(header | {'alg': 'none'})}.{b64(payload)}.")
    # HS256 "signed" with the provider's own public key.
    async with httpx.AsyncClient() as http:
        jwks = (await http.get(f"{realm}/protocol/openid-connect/certs")).json()
    public = KeySet.import_key_set(jwks).get_by_kid(header["kid"])
    signing_input = f"{b64(header | {'alg': 'HS256'})}.{b64(parts(erin)[1])}"
    mac = hmac.new(public.as_pem(private=False), signing_input.encode(), hashlib.sha256)
    assert "HS256" in await refused(nc, f"{signing_input}.{b64(mac.digest())}")


@pytest.mark.requirement("part11-11.10d")
async def test_an_expired_token_is_401(nc: NcService) -> None:
    erin = await password_token(issuer(), "erin")
    use_verifier(nc, clock=lambda: time.time() + 3600)  # an hour later: long expired
    assert "expired" in await refused(nc, erin)


async def test_unknown_kids_read_the_keys_once_not_per_request(nc: NcService) -> None:
    erin = await password_token(issuer(), "erin")
    clock = Clock()
    verifier = use_verifier(nc, monotonic=clock)
    assert (await nc.client.get("/v1/nonconformities", headers=bearer(erin))).status_code == 200
    assert verifier.jwks_fetches == 1
    clock.now += 60  # past the refresh interval: one re-read is allowed
    _header, payload, _signature = parts(erin)
    stranger = RSAKey.generate_key(2048, parameters={"kid": "rotated-maybe"}, private=True)
    forged = jwt.encode({"alg": "RS256", "kid": stranger.kid}, payload, stranger)
    for _ in range(10):
        assert "does not publish" in await refused(nc, forged)
    assert verifier.jwks_fetches == 2
    # The real key still works without another read.
    assert (await nc.client.get("/v1/nonconformities", headers=bearer(erin))).status_code == 200
    assert verifier.jwks_fetches == 2


async def test_the_provider_down_is_503_for_tokens_only(nc: NcService) -> None:
    erin = await password_token(issuer(), "erin")
    # A provider nobody answers for (port 9 on loopback: closed).
    nc.app.state.oidc = TokenVerifier(OidcConfig(
        issuer="http://127.0.0.1:9/realms/capaflow"))
    response = await nc.client.get("/v1/nonconformities", headers=bearer(erin))
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    assert (await nc.client.get("/v1/nonconformities",
                                headers=nc.auth("reporter"))).status_code == 200


async def test_the_uis_refresh_gets_a_new_access_token_from_keycloak() -> None:
    """services/web/oidc_login.py's refresh, spoken by authlib to the real provider
    (with the test client: the UI's own client has no password grant to start from)."""
    from services.web.oidc_login import OidcLogin

    realm = issuer()
    async with httpx.AsyncClient(timeout=30) as http:
        first = (await http.post(f"{realm}/protocol/openid-connect/token", data={
            "grant_type": "password", "client_id": "capaflow-tests", "username": "mona",
            "password": "mona-test-password", "scope": "openid"})).json()
    login = OidcLogin(OidcConfig(issuer=realm), client_id="capaflow-tests", client_secret=None,
                      provider_name="Keycloak")
    try:
        tokens = await login.refresh(first["refresh_token"])
        assert tokens is not None and tokens.access_token != first["access_token"]
        person = await login.verifier.verify(tokens.access_token)
        assert (person.subject, person.name, person.roles) == ("mona", "Mona Meyer",
                                                                {"manager"})
        assert await login.refresh("not-a-refresh-token") is None
    finally:
        await login.aclose()
