"""Access tokens of the company's OpenID Connect provider, beside the API keys.

A person signed in at the provider (Keycloak, Okta, Entra ID, Google...) calls
the services with the provider's access token: a JWT signed with one of the
provider's keys. :class:`TokenVerifier` checks it without calling the provider
per request: the discovery document names the JWKS, whose keys are cached; an
unknown ``kid`` (the provider rotated its keys) re-reads the JWKS, at most once
per ``refresh_interval`` so a flood of made-up kids cannot hammer the provider.

The signature is checked by joserfc (the JOSE library authlib recommends over
its own ``authlib.jose``), with an algorithm allow-list: asymmetric algorithms
only, so neither ``alg: none`` nor an HMAC "signed" with the provider's public
key passes. Then ``iss``, ``aud`` and ``exp``/``nbf`` (with a small leeway for
clock skew).

Who the person is comes from a configurable claim (``preferred_username`` by
default), in the canonical form API keys' subjects have (shared.identity), so
ownership and the verifier-is-not-the-owner rule compare one spelling. Roles
come from a configurable claim path mapped through a table; only the five
person roles can come from a token, never a monitoring source's.
"""

import asyncio
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import extract_compact
from joserfc.jwt import ClaimsOption

from shared.auth import ROLES, Principal
from shared.identity import InvalidIdentity, canonical_identity
from shared.text import IDENTITY_MAX_CHARS, IDENTITY_PATTERN

_NAMEABLE = re.compile(IDENTITY_PATTERN)

log = logging.getLogger(__name__)

# Asymmetric only: a symmetric algorithm would let anyone holding the public key sign.
ALLOWED_ALGORITHMS = ("RS256", "ES256", "PS256")
# A JWT is far shorter; longer tokens are refused before any parsing.
MAX_TOKEN_LENGTH = 16_384


class InvalidToken(Exception):
    """The token is not one this deployment accepts (401). The message says why,
    in words safe to show the caller."""


class ProviderUnavailable(Exception):
    """The provider's keys could not be read, so the token cannot be checked (503)."""


def parse_role_map(text: str) -> dict[str, str]:
    """``"capa-managers=manager, qa=engineer"`` -> {claim value: CAPAflow role}.

    Raises ValueError for a malformed pair or a target that is not a person role
    (a map must not hand out ``source:*`` or a made-up role)."""
    mapping: dict[str, str] = {}
    for pair in (p.strip() for p in text.split(",")):
        if not pair:
            continue
        value, sep, role = (s.strip() for s in pair.rpartition("="))
        if not sep or not value or not role:
            raise ValueError(f"role map entry {pair!r} is not 'claim-value=role'")
        if role not in ROLES:
            raise ValueError(f"role map entry {pair!r}: {role!r} is not one of {', '.join(ROLES)}")
        mapping[value] = role
    return mapping


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    audience: str = "capaflow-api"
    # Dotted path into the claims: realm_access.roles (Keycloak), groups (Okta),
    # roles (Entra ID app roles).
    roles_claim: str = "realm_access.roles"
    # Claim value -> role. Empty: a claim value that is a role's name is that role.
    role_map: Mapping[str, str] = field(default_factory=dict)
    subject_claim: str = "preferred_username"
    leeway_seconds: int = 30
    # Unknown kids re-read the JWKS at most this often; a failed read is retried
    # after failure_backoff (the provider may be back soon).
    refresh_interval: float = 30.0
    failure_backoff: float = 2.0
    # Keys are re-read at least this often, so a key the provider withdrew stops working.
    max_key_age: float = 3600.0

    @property
    def discovery_url(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"


def claim_at(claims: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path (``realm_access.roles``), or None."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def roles_from(claims: Mapping[str, Any], config: OidcConfig) -> frozenset[str]:
    """The CAPAflow roles a token's claims grant (unknown values are ignored)."""
    raw = claim_at(claims, config.roles_claim)
    if isinstance(raw, str):
        values = raw.split()  # some providers send a space-separated string
    elif isinstance(raw, list):
        values = [v for v in raw if isinstance(v, str)]
    else:
        values = []
    if config.role_map:
        return frozenset(config.role_map[v] for v in values if v in config.role_map)
    return frozenset(v for v in values if v in ROLES)


def principal_from(claims: Mapping[str, Any], config: OidcConfig) -> Principal:
    """The person a verified token names. Raises InvalidToken without a usable subject."""
    raw = claim_at(claims, config.subject_claim)
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidToken(f"the token has no {config.subject_claim} claim to name the person")
    try:
        subject = canonical_identity(raw)
    except InvalidIdentity as exc:
        raise InvalidToken(f"the token's {config.subject_claim} {exc}") from exc
    # The subject becomes the author and owner of records and may be named as an
    # owner or verifier: it must be a name those fields take, and fit them.
    if len(subject) > IDENTITY_MAX_CHARS or not _NAMEABLE.fullmatch(subject):
        raise InvalidToken(f"the token's {config.subject_claim} is not a name CAPAflow can "
                           f"record (letters of one script, digits, . _ @ + ' - and inner "
                           f"spaces, at most {IDENTITY_MAX_CHARS} characters)")
    auth_time = claims.get("auth_time")
    name = claims.get("name")
    email = claims.get("email")
    return Principal(subject=subject, roles=roles_from(claims, config),
                     name=name if isinstance(name, str) else None,
                     email=email if isinstance(email, str) else None,
                     auth_time=auth_time if isinstance(auth_time, int) else None,
                     method="oidc")


def looks_like_jwt(token: str) -> bool:
    """Three dot-separated parts: API keys (token_urlsafe) never contain a dot."""
    return token.count(".") == 2


class TokenVerifier:
    """Checks access tokens of one issuer; one per service process."""

    def __init__(self, config: OidcConfig, *, http: httpx.AsyncClient | None = None,
                 clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._http = http or httpx.AsyncClient(timeout=5.0)
        self._owns_http = http is None
        self._clock = clock
        self._monotonic = monotonic
        self._discovery: dict[str, Any] | None = None
        self._keys: KeySet | None = None
        self._fetched_at = float("-inf")
        self._failed_at = float("-inf")
        self._lock = asyncio.Lock()
        # How often the JWKS was read (the tests show bogus kids do not multiply it).
        self.jwks_fetches = 0

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def verify(self, token: str) -> Principal:
        """The person an access token names, or InvalidToken / ProviderUnavailable."""
        claims = await self._decode(token, audience=self.config.audience)
        return principal_from(claims, self.config)

    async def verify_id_token(self, token: str, *, client_id: str, nonce: str) -> dict[str, Any]:
        """The claims of an ID token the provider gave the UI at sign-in: signed by the
        provider, for this client (aud), answering this sign-in (nonce)."""
        return await self._decode(token, audience=client_id, nonce=nonce)

    async def discovery(self) -> dict[str, Any]:
        """The provider's discovery document (endpoints), read once."""
        if self._discovery is None:
            async with self._lock:
                if self._discovery is None:
                    await self._fetch()
        assert self._discovery is not None
        return self._discovery

    async def _decode(self, token: str, *, audience: str, nonce: str | None = None
                      ) -> dict[str, Any]:
        if len(token) > MAX_TOKEN_LENGTH or not looks_like_jwt(token):
            raise InvalidToken("not a JWT")
        try:
            header = extract_compact(token.encode()).headers()
        except (JoseError, ValueError, UnicodeDecodeError) as exc:
            raise InvalidToken("the token cannot be read") from exc
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ALLOWED_ALGORITHMS:
            raise InvalidToken(f"the algorithm {alg!r} is not accepted "
                               f"(only {', '.join(ALLOWED_ALGORITHMS)})")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("the token names no signing key (kid)")
        keys = await self._keys_with(kid)
        options: dict[str, ClaimsOption] = {
            "iss": {"essential": True, "value": self.config.issuer},
            "aud": {"essential": True, "value": audience}, "exp": {"essential": True}}
        if nonce is not None:
            options["nonce"] = {"essential": True, "value": nonce}
        registry = jwt.JWTClaimsRegistry(now=int(self._clock()),
                                         leeway=self.config.leeway_seconds, **options)
        try:
            decoded = jwt.decode(token, keys, algorithms=list(ALLOWED_ALGORITHMS))
            registry.validate(decoded.claims)
        except ExpiredTokenError as exc:
            raise InvalidToken("the token has expired") from exc
        except JoseError as exc:
            raise InvalidToken(_reason(exc)) from exc
        except (ValueError, TypeError) as exc:
            raise InvalidToken("the token cannot be read") from exc
        return decoded.claims

    def _usable(self, kid: str) -> KeySet | None:
        keys = self._keys
        if keys is None or not _has_kid(keys, kid):
            return None
        return keys if self._monotonic() - self._fetched_at < self.config.max_key_age else None

    async def _keys_with(self, kid: str) -> KeySet:
        """The cached key set, re-read when it lacks ``kid`` (rate-limited) or is old."""
        keys = self._usable(kid)
        if keys is not None:
            return keys
        async with self._lock:  # concurrent requests with a new kid share one read
            if self._usable(kid) is None:
                await self._refresh(kid)
        keys = self._keys
        if keys is None or not _has_kid(keys, kid):
            raise InvalidToken("the token is signed with a key the provider does not publish")
        return keys

    async def _refresh(self, kid: str) -> None:
        now = self._monotonic()
        if (now - self._fetched_at < self.config.refresh_interval
                or now - self._failed_at < self.config.failure_backoff):
            if self._keys is None:
                raise ProviderUnavailable("the identity provider's keys could not be read")
            return  # read a moment ago: a made-up kid does not make us ask again
        try:
            await self._fetch()
        except ProviderUnavailable:
            self._failed_at = self._monotonic()
            if self._keys is None or not _has_kid(self._keys, kid):
                raise
            # The old keys still name this kid: keep using them while the provider is away.
            log.warning("identity provider unreachable; using the keys read before")

    async def _fetch(self) -> None:
        try:
            if self._discovery is None:
                discovery = await self._get_json(self.config.discovery_url)
                if discovery.get("issuer") != self.config.issuer:
                    log.error("discovery document of %s names issuer %r", self.config.issuer,
                              discovery.get("issuer"))
                    raise ProviderUnavailable("the provider's discovery document names "
                                              "another issuer")
                self._discovery = discovery
            jwks = await self._get_json(str(self._discovery["jwks_uri"]))
            self.jwks_fetches += 1
            keys = _signing_keys(jwks.get("keys"), self.config.issuer)
        except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError,
                JoseError) as exc:
            log.warning("could not read the keys of %s: %s: %s", self.config.issuer,
                        type(exc).__name__, exc)
            raise ProviderUnavailable("the identity provider's keys could not be read") from exc
        self._keys, self._fetched_at = keys, self._monotonic()
        log.info("read %d signing keys of %s", len(keys.keys), self.config.issuer)

    async def _get_json(self, url: str) -> dict[str, Any]:
        response = await self._http.get(url, headers={"Accept": "application/json"})
        response.raise_for_status()
        body = response.json()
        if not isinstance(body, dict):
            raise ValueError(f"{url} did not answer with a JSON object")
        return body


def _signing_keys(listed: object, issuer: str) -> KeySet:
    """The usable signing keys of a JWKS: one malformed entry is skipped (and
    logged) instead of making every token of the provider unverifiable."""
    if not isinstance(listed, list):
        raise ValueError("the JWKS has no list of keys")
    usable = []
    for entry in listed:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        try:
            usable.extend(KeySet.import_key_set({"keys": [entry]}).keys)
        except (ValueError, KeyError, TypeError, AttributeError, JoseError) as exc:
            log.warning("skipping a key of %s it cannot use (kid %r): %s", issuer,
                        entry.get("kid"), exc)
    return KeySet(usable)


def _has_kid(keys: KeySet, kid: str) -> bool:
    return any(k.kid == kid for k in keys.keys)


def _reason(exc: JoseError) -> str:
    """A short reason for the 401 (joserfc's error names the claim or the failure)."""
    description = getattr(exc, "description", "") or str(exc) or type(exc).__name__
    if "signature" in description.lower():
        return "the token's signature does not verify"
    return f"the token is not accepted: {description}"
