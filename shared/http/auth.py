"""FastAPI dependencies that authenticate the caller and check a role.

``Depends(require_roles("engineer", "manager"))`` answers 401 (with
``WWW-Authenticate``) without valid credentials and 403 without a role.
``Depends(authenticate)`` admits any person's key. Bearer keys are the rule;
basic auth (password = key) exists because Alertmanager and Grafana can be
configured with either. Where an OpenID Connect issuer is configured, a bearer
JWT is checked as the provider's access token instead (shared.oidc): a bad one
is a 401, and the provider being unreachable a 503 for such tokens only.

A monitoring source's token (a ``source:<name>`` role) is refused with 403
everywhere except on a route that names that source role in
``require_roles``: its intake. The refusal lives here, not in each router,
so a new read cannot forget it.
"""

import base64
import binascii
from collections.abc import Awaitable, Callable
from typing import Protocol

from fastapi import Request

from shared.auth import ROLES, SOURCE_ROLE_PREFIX, Principal
from shared.http.errors import Problem
from shared.oidc import ProviderUnavailable, TokenVerifier, looks_like_jwt
from shared.oidc_claims import InvalidToken

# Basic too: feed readers and Alertmanager's basic_auth prompt only for it.
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="capaflow", Basic realm="capaflow"'}


class Authenticator(Protocol):
    """``app.state.keys``: a ``shared.auth.KeyFile`` (or a fixed ``KeyStore``)."""

    def authenticate(self, token: str) -> Principal | None: ...


def _token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if scheme.lower() == "basic" and value.strip():
        try:
            _user, _, password = base64.b64decode(value.strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return password or None
    return None


async def _identify(request: Request) -> Principal:
    token = _token(request)
    if token is None:
        raise Problem(401, "Send an API key or an access token as "
                      "'Authorization: Bearer <token>'.",
                      title="Authentication required", headers=_CHALLENGE)
    verifier: TokenVerifier | None = getattr(request.app.state, "oidc", None)
    if verifier is not None and looks_like_jwt(token):
        principal = await _verified(verifier, token)
    else:
        keys: Authenticator = request.app.state.keys
        found = keys.authenticate(token)
        if found is None:
            raise Problem(401, "The API key is not valid.", title="Authentication failed",
                          headers=_CHALLENGE)
        principal = found
    request.state.principal = principal
    return principal


async def _verified(verifier: TokenVerifier, token: str) -> Principal:
    try:
        return await verifier.verify(token)
    except InvalidToken as exc:
        raise Problem(401, f"The access token is not valid: {exc}.",
                      title="Authentication failed",
                      headers={"WWW-Authenticate": 'Bearer realm="capaflow", '
                                                   'error="invalid_token"'}) from exc
    except ProviderUnavailable as exc:
        raise Problem(503, "The identity provider cannot be reached to check the access "
                      "token; try again in a moment (API keys keep working).",
                      title="Service Unavailable", headers={"Retry-After": "5"}) from exc


def _refuse_source() -> None:
    raise Problem(403, "A monitoring source's token may only send to its intake endpoint; "
                  "use a person's API key here.", title="Forbidden",
                  required_roles=list(ROLES))


async def authenticate(request: Request) -> Principal:
    """Any person's valid key or token (monitoring source tokens get 403)."""
    principal = await _identify(request)
    if principal.is_source:
        _refuse_source()
    return principal


def require_roles(*roles: str) -> Callable[[Request], Awaitable[Principal]]:
    # Only a route that names a source role is an intake a source may call.
    intake = any(r.startswith(SOURCE_ROLE_PREFIX) for r in roles)

    async def dependency(request: Request) -> Principal:
        principal = await _identify(request)
        if principal.is_source and not intake:
            _refuse_source()
        if not principal.holds_any(roles):
            # admin holds every person role; a source token only its own.
            needed = list(roles) + (["admin"] if any(r in ROLES for r in roles) else [])
            raise Problem(403, f"This needs one of the roles: {', '.join(needed)}.",
                          title="Forbidden", required_roles=needed)
        return principal

    return dependency
