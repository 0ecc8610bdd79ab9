"""Signing people in at the company's OpenID Connect provider (docs/sign-in.md).

The authorization-code flow with PKCE (S256), spoken by authlib's httpx client;
no OAuth is written by hand here. The UI is a confidential client
(``WEB_OIDC_CLIENT_ID`` / ``WEB_OIDC_CLIENT_SECRET``). The ID token answers the
sign-in (nonce, issuer, audience = this client, the provider's signature); the
access token is what the UI then sends to the services in place of an API key,
checked here as the services check it (shared.oidc), so the person's roles and
name come from the one token the services will see. Tokens are refreshed shortly
before they expire.
"""

import logging
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from authlib.deprecate import AuthlibDeprecationWarning

with warnings.catch_warnings():
    # authlib 1.9 asks for its httpx2 fork at import; it still supports httpx, which
    # the project pins and uses everywhere else.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError

from shared.auth import Principal
from shared.db import utcnow
from shared.oidc import ProviderUnavailable, TokenVerifier
from shared.oidc_claims import InvalidToken, OidcConfig

log = logging.getLogger(__name__)

SCOPES = "openid profile email"
# Refresh this long before the access token expires, so no page call carries a
# token that runs out on its way.
REFRESH_MARGIN = timedelta(seconds=30)


class SignInFailed(Exception):
    """The provider's answer does not sign anyone in; the message is for the person."""


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str | None
    expires_at: datetime


class OidcLogin:
    def __init__(self, config: OidcConfig, *, client_id: str, client_secret: str | None,
                 provider_name: str, timeout: float = 10.0) -> None:
        self.config = config
        self.client_id = client_id
        self.client_secret = client_secret
        self.provider_name = provider_name
        self.verifier = TokenVerifier(config)
        self._timeout = timeout

    async def aclose(self) -> None:
        await self.verifier.aclose()

    def _client(self, redirect_uri: str | None = None) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self.client_id, client_secret=self.client_secret, scope=SCOPES,
            redirect_uri=redirect_uri, code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_post" if self.client_secret else "none",
            timeout=self._timeout)

    async def authorization_url(self, *, redirect_uri: str, state: str, nonce: str,
                                code_verifier: str, fresh: bool = False) -> str:
        """``fresh``: the person must authenticate again even with a session at the
        provider (to sign: prompt=login, max_age=0), so the token's auth_time is now."""
        endpoint = (await self.verifier.discovery())["authorization_endpoint"]
        extra = {"prompt": "login", "max_age": "0"} if fresh else {}
        async with self._client(redirect_uri) as client:
            url, _state = client.create_authorization_url(
                endpoint, state=state, nonce=nonce, code_verifier=code_verifier, **extra)
        return str(url)

    async def finish(self, *, redirect_uri: str, code: str, code_verifier: str,
                     nonce: str) -> tuple[Principal, Tokens]:
        """Code -> tokens; the ID token must answer this sign-in; the person from the
        access token. Raises SignInFailed, or ProviderUnavailable."""
        endpoint = (await self.verifier.discovery())["token_endpoint"]
        try:
            async with self._client(redirect_uri) as client:
                token = await client.fetch_token(endpoint, grant_type="authorization_code",
                                                 code=code, code_verifier=code_verifier)
        except OAuthError as exc:
            log.warning("provider refused the code: %s", exc)
            raise SignInFailed("The provider did not accept the sign-in; please try again.") \
                from exc
        except httpx.HTTPError as exc:
            raise ProviderUnavailable("the provider's token endpoint cannot be reached") from exc
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise SignInFailed("The provider sent no ID token; is the 'openid' scope allowed?")
        try:
            await self.verifier.verify_id_token(id_token, client_id=self.client_id, nonce=nonce)
            principal = await self.verifier.verify(str(token["access_token"]))
        except InvalidToken as exc:
            log.warning("sign-in refused: %s", exc)
            raise SignInFailed(f"The provider's answer was not accepted: {exc}.") from exc
        return principal, _tokens(token)

    async def refresh(self, refresh_token: str) -> Tokens | None:
        """New tokens, or None when the provider no longer honours the refresh token
        (the person signed out there, or the session at the provider ended)."""
        endpoint = (await self.verifier.discovery())["token_endpoint"]
        try:
            async with self._client() as client:
                token = await client.refresh_token(endpoint, refresh_token=refresh_token)
        except OAuthError as exc:
            log.info("refresh refused by the provider: %s", exc)
            return None
        except httpx.HTTPError as exc:
            raise ProviderUnavailable("the provider's token endpoint cannot be reached") from exc
        return _tokens(token)


def _tokens(token: dict[str, Any]) -> Tokens:
    expires_in = token.get("expires_in")
    lifetime = float(expires_in) if isinstance(expires_in, (int, float, str)) else 300.0
    refresh = token.get("refresh_token")
    return Tokens(access_token=str(token["access_token"]),
                  refresh_token=refresh if isinstance(refresh, str) else None,
                  expires_at=utcnow() + timedelta(seconds=lifetime))


def needs_refresh(expires_at: datetime | None) -> bool:
    return expires_at is not None and expires_at - utcnow() < REFRESH_MARGIN
