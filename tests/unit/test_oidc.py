"""Access-token checks (shared.oidc) against a provider served from memory.

The provider's discovery document and JWKS come from an httpx.MockTransport
that counts its calls; tokens are signed with keys made here, so every claim
can be varied. tests/integration/test_oidc.py does the same against Keycloak.
"""

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from shared.oidc import ProviderUnavailable, TokenVerifier
from shared.oidc_claims import (
    InvalidToken,
    OidcConfig,
    parse_role_map,
    principal_from,
    roles_from,
)
from shared.settings import ServiceSettings

ISSUER = "https://id.example.test/realms/capaflow"
KEY = RSAKey.generate_key(2048, parameters={"kid": "key-1"}, private=True)


class Provider:
    """Discovery + JWKS; ``up=False`` answers 503; counts JWKS reads."""

    def __init__(self, *keys: RSAKey) -> None:
        self.keys = list(keys)
        self.up = True
        self.jwks_reads = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        if not self.up:
            return httpx.Response(503)
        if request.url.path.endswith("/.well-known/openid-configuration"):
            return httpx.Response(200, json={"issuer": ISSUER,
                                             "jwks_uri": ISSUER + "/certs"})
        if request.url.path.endswith("/certs"):
            self.jwks_reads += 1
            return httpx.Response(200, json={"keys": [k.as_dict(private=False)
                                                      for k in self.keys]})
        return httpx.Response(404)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def verifier(provider: Provider, clock: Clock | None = None, **config: Any) -> TokenVerifier:
    http = httpx.AsyncClient(transport=httpx.MockTransport(provider.handler))
    return TokenVerifier(OidcConfig(issuer=ISSUER, **config), http=http,
                         monotonic=clock or Clock())


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": ISSUER, "aud": ["capaflow-api", "account"], "exp": now + 300, "iat": now,
            "sub": "f81d4fae", "preferred_username": "Erin", "name": "Erin Engel",
            "email": "erin@example.test", "email_verified": True, "auth_time": now - 5,
            "realm_access": {"roles": ["engineer", "offline_access"]}} | overrides


def sign(payload: dict[str, Any], key: RSAKey = KEY, alg: str = "RS256") -> str:
    return jwt.encode({"alg": alg, "kid": key.kid}, payload, key)


def b64(data: dict[str, Any] | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def hs256_with_public_key(payload: dict[str, Any], key: RSAKey) -> str:
    """The classic forgery: an HMAC keyed with the provider's public key (PEM), made
    by hand because joserfc refuses to use a public key as an HMAC secret."""
    signing_input = f"{b64({'alg': 'HS256', 'kid': key.kid})}.{b64(payload)}"
    mac = hmac.new(key.as_pem(private=False), signing_input.encode(), hashlib.sha256)
    return f"{signing_input}.{b64(mac.digest())}"


@pytest.mark.requirement("part11-11.10d")
async def test_a_valid_token_names_the_person_with_their_roles() -> None:
    principal = await verifier(Provider(KEY)).verify(sign(claims()))
    assert principal.subject == "erin"  # canonical, like an API key's subject
    assert principal.roles == {"engineer"}
    assert (principal.name, principal.email, principal.method) == (
        "Erin Engel", "erin@example.test", "oidc")
    assert principal.auth_time is not None


@pytest.mark.parametrize("change, reason", [
    ({"exp": -120}, "expired"),  # times: seconds from when the test runs
    ({"aud": "another-app"}, "aud"),
    ({"iss": "https://evil.example.test/"}, "iss"),
    ({"nbf": 600}, "not yet valid"),
])
@pytest.mark.requirement("part11-11.10d")
async def test_claims_outside_the_rules_are_refused(change: dict[str, Any], reason: str) -> None:
    # Relative to now, not to collection: a full run reaches this test many minutes
    # after collecting it, when an nbf fixed then would already have passed.
    now = int(time.time())
    change = {k: now + v if k in ("exp", "nbf") else v for k, v in change.items()}
    with pytest.raises(InvalidToken, match=reason):
        await verifier(Provider(KEY)).verify(sign(claims(**change)))


async def test_a_token_without_exp_is_refused() -> None:
    payload = claims()
    del payload["exp"]
    with pytest.raises(InvalidToken, match="exp"):
        await verifier(Provider(KEY)).verify(sign(payload))


async def test_small_clock_skew_is_tolerated() -> None:
    token = sign(claims(exp=int(time.time()) - 10))
    assert (await verifier(Provider(KEY), leeway_seconds=30).verify(token)).subject == "erin"
    with pytest.raises(InvalidToken, match="expired"):
        await verifier(Provider(KEY), leeway_seconds=0).verify(token)


@pytest.mark.requirement("part11-11.10d")
async def test_alg_none_and_hmac_with_the_public_key_are_refused() -> None:
    unsigned = f"{b64({'alg': 'none', 'kid': 'key-1'})}.{b64(claims())}."
    with pytest.raises(InvalidToken, match="'none' is not accepted"):
        await verifier(Provider(KEY)).verify(unsigned)
    # The classic confusion: HS256 keyed with the provider's public key.
    forged = hs256_with_public_key(claims(), KEY)
    with pytest.raises(InvalidToken, match="HS256"):
        await verifier(Provider(KEY)).verify(forged)


async def test_a_tampered_payload_fails_the_signature() -> None:
    header, _payload, signature = sign(claims()).split(".")
    tampered = f"{header}.{b64(claims(realm_access={'roles': ['admin']}))}.{signature}"
    with pytest.raises(InvalidToken, match="signature"):
        await verifier(Provider(KEY)).verify(tampered)


async def test_a_token_signed_by_a_stranger_with_a_known_kid_fails() -> None:
    stranger = RSAKey.generate_key(2048, parameters={"kid": "key-1"}, private=True)
    with pytest.raises(InvalidToken, match="signature"):
        await verifier(Provider(KEY)).verify(sign(claims(), stranger))


async def test_unknown_kids_read_the_keys_again_at_most_once_per_interval() -> None:
    provider, clock = Provider(KEY), Clock()
    check = verifier(provider, clock, refresh_interval=30.0)
    await check.verify(sign(claims()))
    assert provider.jwks_reads == 1
    bogus = RSAKey.generate_key(2048, parameters={"kid": "made-up"}, private=True)
    clock.now += 31
    for _ in range(20):
        with pytest.raises(InvalidToken, match="key the provider does not publish"):
            await check.verify(sign(claims(), bogus))
    assert provider.jwks_reads == 2  # one re-read for the flood, not twenty
    # A real rotation: the new key is found by the re-read after the interval.
    rotated = RSAKey.generate_key(2048, parameters={"kid": "key-2"}, private=True)
    provider.keys.append(rotated)
    clock.now += 31
    assert (await check.verify(sign(claims(), rotated))).subject == "erin"
    assert provider.jwks_reads == 3


async def test_the_provider_down_is_unavailable_not_invalid() -> None:
    provider, clock = Provider(KEY), Clock()
    check = verifier(provider, clock)
    provider.up = False
    with pytest.raises(ProviderUnavailable):
        await check.verify(sign(claims()))
    provider.up = True
    clock.now += 3  # past the failure back-off
    assert (await check.verify(sign(claims()))).subject == "erin"
    # Keys read before keep working while the provider is away again.
    provider.up = False
    clock.now += 4000  # past max_key_age: a re-read is tried and fails
    assert (await check.verify(sign(claims()))).subject == "erin"


async def test_garbage_is_invalid_not_an_error() -> None:
    check = verifier(Provider(KEY))
    for token in ("a.b.c", "....", f"{b64({'alg': 'RS256'})}.e30.x", "x" * 20000):
        with pytest.raises(InvalidToken):
            await check.verify(token)


@pytest.mark.requirement("part11-11.10g")
def test_roles_come_from_the_configured_claim_through_the_map() -> None:
    keycloak = OidcConfig(issuer=ISSUER)
    assert roles_from({"realm_access": {"roles": ["verifier", "uma_authorization"]}},
                      keycloak) == {"verifier"}
    okta = OidcConfig(issuer=ISSUER, roles_claim="groups",
                      role_map=parse_role_map("capa-managers=manager, QA Engineers=engineer"))
    assert roles_from({"groups": ["capa-managers", "QA Engineers", "manager"]}, okta) == {
        "manager", "engineer"}  # with a map, only mapped values count
    assert roles_from({"groups": "capa-managers"}, okta) == {"manager"}
    assert roles_from({"groups": {"not": "a list"}}, okta) == frozenset()
    assert roles_from({}, keycloak) == frozenset()


@pytest.mark.requirement("part11-11.10g")
def test_a_token_cannot_claim_a_monitoring_source_role() -> None:
    config = OidcConfig(issuer=ISSUER, roles_claim="roles")
    principal = principal_from({"preferred_username": "x", "roles": ["source:alertmanager",
                                                                      "reporter"]}, config)
    assert principal.roles == {"reporter"} and not principal.is_source
    with pytest.raises(ValueError, match="not one of"):
        parse_role_map("ops=source:alertmanager")
    with pytest.raises(ValueError, match="claim-value=role"):
        parse_role_map("managers")


@pytest.mark.requirement("part11-11.100")
def test_the_subject_claim_is_configurable_and_canonical() -> None:
    by_email = OidcConfig(issuer=ISSUER, subject_claim="email")
    assert principal_from({"email": "Mona.Meyer@Example.test"}, by_email).subject == \
        "mona.meyer@example.test"
    with pytest.raises(InvalidToken, match="no email claim"):
        principal_from({"preferred_username": "mona"}, by_email)
    with pytest.raises(InvalidToken, match="invisible"):
        principal_from({"preferred_username": "mona\u200b"}, OidcConfig(issuer=ISSUER))


@pytest.mark.parametrize("verified", [
    "absent", False, None, "false", "true", 0, 1, "True", [True], {"value": True}])
def test_an_email_claim_counts_only_when_the_provider_says_verified_true(
        verified: Any) -> None:
    # Watches e-mail this address: an editable, unverified claim (Entra ID sends
    # no email_verified at all) must not make a stranger's mailbox the person's.
    token = {"preferred_username": "ann", "email": "boss@corp.example"}
    if verified != "absent":
        token["email_verified"] = verified
    assert principal_from(token, OidcConfig(issuer=ISSUER)).email is None
    trusted = OidcConfig(issuer=ISSUER, email_trusted=True)
    assert principal_from(token, trusted).email == "boss@corp.example"


def test_a_verified_email_claim_is_the_persons_address() -> None:
    token = {"preferred_username": "ann", "email": "boss@corp.example", "email_verified": True}
    assert principal_from(token, OidcConfig(issuer=ISSUER)).email == "boss@corp.example"
    assert principal_from(token | {"email": 7}, OidcConfig(issuer=ISSUER)).email is None


def test_oidc_email_trusted_is_off_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OIDC_ISSUER", ISSUER)
    config = ServiceSettings().oidc_config()
    assert config is not None and config.email_trusted is False
    monkeypatch.setenv("OIDC_EMAIL_TRUSTED", "true")
    config = ServiceSettings().oidc_config()
    assert config is not None and config.email_trusted is True


def test_settings_are_off_without_an_issuer_and_check_the_map(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert ServiceSettings().oidc_config() is None
    monkeypatch.setenv("OIDC_ISSUER", ISSUER)
    monkeypatch.setenv("OIDC_ROLE_MAP", "capa-managers=manager")
    config = ServiceSettings().oidc_config()
    assert config is not None and config.role_map == {"capa-managers": "manager"}
    monkeypatch.setenv("OIDC_ROLE_MAP", "capa-managers=boss")
    with pytest.raises(ValueError, match="boss"):
        ServiceSettings()


def test_a_subject_that_cannot_be_recorded_or_named_is_refused() -> None:
    # It becomes the author of records (255-character columns) and must be a name
    # an owner or verifier field takes.
    config = OidcConfig(issuer=ISSUER)
    for subject in ("e" * 300, "<script>x</script>", "source:alertmanager"):
        with pytest.raises(InvalidToken, match="not a name CAPAflow can record"):
            principal_from({"preferred_username": subject}, config)
    assert principal_from({"preferred_username": "Erin O'Neil"}, config).subject == "erin o'neil"


@pytest.mark.parametrize("listed", ["x", [None], [1, "a"], {"kty": "RSA"}])
async def test_a_malformed_key_set_makes_the_provider_unavailable_not_an_error(
        listed: Any) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/.well-known/openid-configuration"):
            return httpx.Response(200, json={"issuer": ISSUER, "jwks_uri": ISSUER + "/certs"})
        return httpx.Response(200, json={"keys": listed})

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    check = TokenVerifier(OidcConfig(issuer=ISSUER), http=http, monotonic=Clock())
    with pytest.raises((ProviderUnavailable, InvalidToken)):
        await check.verify(sign(claims()))


async def test_one_unusable_key_does_not_disable_the_others() -> None:
    provider = Provider(KEY)
    good = provider.handler

    def handler(request: httpx.Request) -> httpx.Response:
        answer = good(request)
        if request.url.path.endswith("/certs"):
            keys = answer.json()["keys"]
            return httpx.Response(200, json={"keys": [{"kty": "RSA", "kid": "bad", "n": "!",
                                                       "e": "?"}, None, *keys]})
        return answer

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    check = TokenVerifier(OidcConfig(issuer=ISSUER), http=http, monotonic=Clock())
    assert (await check.verify(sign(claims()))).subject == "erin"
