"""FastAPI dependencies that authenticate the caller and check a role.

``Depends(require_roles("engineer", "manager"))`` answers 401 (with
``WWW-Authenticate``) without valid credentials and 403 without a role.
Bearer keys are the rule; basic auth (password = key) exists because
Alertmanager and Grafana can be configured with either.
"""

import base64
import binascii
from collections.abc import Awaitable, Callable

from fastapi import Request

from shared.auth import ROLES, KeyStore, Principal
from shared.http.errors import Problem

# Basic too: feed readers and Alertmanager's basic_auth prompt only for it.
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="capaflow", Basic realm="capaflow"'}


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


def authenticate(request: Request) -> Principal:
    keys: KeyStore = request.app.state.keys
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


def require_roles(*roles: str) -> Callable[[Request], Awaitable[Principal]]:
    async def dependency(request: Request) -> Principal:
        principal = authenticate(request)
        if not principal.holds_any(roles):
            # admin holds every person role; a source token only its own.
            needed = list(roles) + (["admin"] if any(r in ROLES for r in roles) else [])
            raise Problem(403, f"This needs one of the roles: {', '.join(needed)}.",
                          title="Forbidden", required_roles=needed)
        return principal

    return dependency
