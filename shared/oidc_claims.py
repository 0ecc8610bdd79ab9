"""What a verified access token means in CAPAflow: who the person is and which
roles they hold (the configuration that says so, and the mapping).

Who the person is comes from a configurable claim (``preferred_username`` by
default), in the canonical form API keys' subjects have (shared.identity), so
ownership and the verifier-is-not-the-owner rule compare one spelling. Roles
come from a configurable claim path mapped through a table; only the five
person roles can come from a token, never a monitoring source's. Checking the
token itself (keys, signature, times) is shared.oidc's.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.auth import ROLES, Principal
from shared.identity import InvalidIdentity, canonical_identity
from shared.text import IDENTITY_MAX_CHARS, IDENTITY_PATTERN

_NAMEABLE = re.compile(IDENTITY_PATTERN)


class InvalidToken(Exception):
    """The token is not one this deployment accepts (401). The message says why,
    in words safe to show the caller."""



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
    # The provider vouches for every e-mail claim it sends (a directory where
    # people cannot edit their address). Off: only an email_verified of JSON
    # true makes the claim count (docs/sign-in.md, the Entra ID note).
    email_trusted: bool = False
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
    # Watches and one's own e-mail subscriptions go to this address, so it must be
    # the person's: only a provider's explicit JSON true counts. Absent, "false",
    # 0 or null is not a yes — Entra ID sends no email_verified and lets people
    # edit the claim (the "nOAuth" takeover) — unless the deployment says this
    # provider's addresses are all trusted.
    if not config.email_trusted and claims.get("email_verified") is not True:
        email = None
    return Principal(subject=subject, roles=roles_from(claims, config),
                     name=name if isinstance(name, str) else None,
                     email=email if isinstance(email, str) else None,
                     auth_time=auth_time if isinstance(auth_time, int) else None,
                     method="oidc")
