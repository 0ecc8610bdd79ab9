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

Who the person is and which roles they hold is shared.oidc_claims'.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import extract_compact
from joserfc.jwt import ClaimsOption

from shared.auth import Principal
from shared.oidc_claims import InvalidToken, OidcConfig, principal_from

log = logging.getLogger(__name__)

# Asymmetric only: a symmetric algorithm would let anyone holding the public key sign.
ALLOWED_ALGORITHMS = ("RS256", "ES256", "PS256")
# A JWT is far shorter; longer tokens are refused before any parsing.
MAX_TOKEN_LENGTH = 16_384


class ProviderUnavailable(Exception):
    """The provider's keys could not be read, so the token cannot be checked (503)."""


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
