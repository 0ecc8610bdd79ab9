"""FastAPI dependencies that authenticate the caller and check a role.

``Depends(require_roles("engineer", "manager"))`` answers 401 (with
``WWW-Authenticate``) without valid credentials and 403 without a role.
``Depends(authenticate)`` admits any person's key. Bearer keys are the rule;
basic auth (password = key) exists because Alertmanager and Grafana can be
configured with either.

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


def _identify(request: Request) -> Principal:
    keys: Authenticator = request.app.state.keys
    token = _token(request)
    if token is None:
        raise Problem(401, "Send an API key as 'Authorization: Bearer <key>'.",
                      title="Authentication required", headers=_CHALLENGE)
    principal = keys.authenticate(token)
    if principal is None:
        raise Problem(401, "The API key is not valid.", title="Authentication failed",
                      headers=_CHALLENGE)
    request.state.principal = principal
    return principal


def _refuse_source() -> None:
    raise Problem(403, "A monitoring source's token may only send to its intake endpoint; "
                  "use a person's API key here.", title="Forbidden",
                  required_roles=list(ROLES))


def authenticate(request: Request) -> Principal:
    """Any person's valid key (monitoring source tokens get 403)."""
    principal = _identify(request)
    if principal.is_source:
        _refuse_source()
    return principal


def require_roles(*roles: str) -> Callable[[Request], Awaitable[Principal]]:
    # Only a route that names a source role is an intake a source may call.
    intake = any(r.startswith(SOURCE_ROLE_PREFIX) for r in roles)

    async def dependency(request: Request) -> Principal:
        principal = _identify(request)
        if principal.is_source and not intake:
            _refuse_source()
        if not principal.holds_any(roles):
            # admin holds every person role; a source token only its own.
            needed = list(roles) + (["admin"] if any(r in ROLES for r in roles) else [])
            raise Problem(403, f"This needs one of the roles: {', '.join(needed)}.",
                          title="Forbidden", required_roles=needed)
        return principal

    return dependency
