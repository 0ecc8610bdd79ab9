"""Create API keys and monitoring-source tokens.

    python -m shared.credentials dev               # make run: one key per role + source tokens
                                                   # and the CAPA audit key (capa-audit.key)
    python -m shared.credentials add SUBJECT ROLE [ROLE ...]   # prints a new key once
    python -m shared.credentials revoke SUBJECT    # removes every key of SUBJECT
    python -m shared.credentials revoke-key        # removes the key read from stdin

Running services pick up an added or revoked key within a second or two
(``shared.auth.KeyFile`` re-reads the store when it changes); no restart.

Only hashes go to the key store (``var/api-keys.json`` unless
``CAPAFLOW_CREDENTIALS_FILE`` says otherwise). ``dev`` also writes the plain
keys to ``var/dev-credentials.json`` for loopback use; production keys are
made with ``add`` and never written in plain text.
"""

import base64
import json
import os
import secrets
import sys
from pathlib import Path

from shared.auth import ROLES, SOURCE_ROLE_PREFIX, hash_key, source_role
from shared.identity import InvalidIdentity, canonical_identity, same_identity
from shared.text import IDENTITY_MAX_CHARS

DEV_SOURCES = ("alertmanager", "grafana")
# Generic JSON sources signed per Standard Webhooks (whsec_ secrets).
DEV_WEBHOOK_SOURCES = ("generic",)


def new_key() -> str:
    return f"cfk_{secrets.token_urlsafe(32)}"


def _store_path() -> Path:
    return Path(os.environ.get("CAPAFLOW_CREDENTIALS_FILE", "var/api-keys.json"))


def _read(store: Path) -> dict[str, list[dict[str, object]]]:
    return dict(json.loads(store.read_text())) if store.is_file() else {"keys": []}


def _write(store: Path, data: dict[str, list[dict[str, object]]]) -> None:
    # Write-then-rename: a service re-reading the store never sees half a file,
    # and the new inode tells it the store changed.
    store.parent.mkdir(parents=True, exist_ok=True)
    tmp = store.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(store)


def _append(store: Path, token: str, subject: str, roles: list[str]) -> None:
    data = _read(store)
    data["keys"].append({"sha256": hash_key(token), "subject": subject, "roles": roles})
    _write(store, data)


def add_key(store: Path, subject: str, roles: list[str]) -> str:
    """A new key for ``subject`` with ``roles``; returns the key (shown once).

    The subject is stored canonical (see ``shared.identity.canonical_identity``), so
    it compares equal to the owner names the services store. Raises ValueError
    for an unknown role or an identity with invisible characters.
    """
    unknown = [r for r in roles if r not in ROLES and not (
        r.startswith(SOURCE_ROLE_PREFIX) and len(r) > len(SOURCE_ROLE_PREFIX))]
    if not roles or unknown:
        raise ValueError(f"unknown roles {unknown or roles}; use {', '.join(ROLES)} "
                         f"or {SOURCE_ROLE_PREFIX}<name>")
    try:
        canonical = canonical_identity(subject)
    except InvalidIdentity as exc:
        raise ValueError(f"subject {subject!r} {exc}") from None
    if not canonical:
        raise ValueError("the subject may not be empty")
    if len(canonical) > IDENTITY_MAX_CHARS:
        # It is stored as the author of every record the key writes (reported_by,
        # owner, actor), columns an owner's identity fits: a longer one would be a
        # database error on the key's first write instead of a refusal here.
        raise ValueError(f"the subject may be at most {IDENTITY_MAX_CHARS} characters "
                         f"(it has {len(canonical)})")
    token = new_key()
    _append(store, token, canonical, roles)
    return token


def revoke(store: Path, *, subject: str | None = None, token: str | None = None) -> int:
    """Remove every key of ``subject``, or the one key ``token``; returns how many."""
    data = _read(store)
    digest = hash_key(token) if token is not None else None
    kept = [e for e in data["keys"]
            if not ((subject is not None and same_identity(str(e["subject"]), subject))
                    or (digest is not None and e["sha256"] == digest))]
    removed = len(data["keys"]) - len(kept)
    if removed:
        _write(store, {**data, "keys": kept})
    return removed


def provision_audit_key(path: Path) -> str:
    """The CAPA audit trail's HMAC key (``CAPA_AUDIT_KEY``) for development,
    made once and kept: a new key would make every keyed entry unverifiable."""
    if path.is_file():
        return path.read_text().strip()
    key = secrets.token_urlsafe(32)
    _private(path, key + "\n")
    return key


def provision_dev(store: Path, plain: Path) -> dict[str, dict[str, str]]:
    """Idempotent: an existing dev-credentials file is kept and returned."""
    provision_audit_key(plain.parent / "capa-audit.key")
    if plain.is_file() and store.is_file():
        return dict(json.loads(plain.read_text()))
    creds: dict[str, dict[str, str]] = {"api_keys": {}, "source_tokens": {},
                                         "webhook_secrets": {}}
    for role in ROLES:
        token = new_key()
        _append(store, token, f"dev-{role}", [role])
        creds["api_keys"][role] = token
    for source in DEV_SOURCES:
        token = new_key()
        _append(store, token, source, [source_role(source)])
        creds["source_tokens"][source] = token
    for source in DEV_WEBHOOK_SOURCES:
        # Standard Webhooks secrets are "whsec_" + standard base64.
        creds["webhook_secrets"][source] = (
            "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode())
    plain.parent.mkdir(parents=True, exist_ok=True)
    _private(plain, json.dumps(creds, indent=2) + "\n")
    # One file per source token, for tools that read a credentials file
    # (deploy/alertmanager/alertmanager.yml points at the Alertmanager one).
    for source, token in creds["source_tokens"].items():
        _private(plain.parent / "source-tokens" / f"{source}.token", token)
    return creds


def _private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o600)


def main(argv: list[str]) -> int:
    store = _store_path()
    if argv[:1] == ["dev"]:
        plain = store.parent / "dev-credentials.json"
        creds = provision_dev(store, plain)
        print(f"development credentials (loopback only) in {plain}:")
        for role, token in creds["api_keys"].items():
            print(f"  {role:<13} Authorization: Bearer {token}")
        for source, token in creds["source_tokens"].items():
            print(f"  source {source:<6} Authorization: Bearer {token}")
        return 0
    if argv[:1] == ["add"] and len(argv) >= 3:
        try:
            print(add_key(store, argv[1], argv[2:]))
        except ValueError as exc:
            print(f"not added: {exc}", file=sys.stderr)
            return 2
        return 0
    if argv[:1] == ["revoke"] and len(argv) == 2:
        removed = revoke(store, subject=argv[1])
        print(f"revoked {removed} key(s) of {argv[1]}")
        return 0 if removed else 1
    if argv == ["revoke-key"]:
        removed = revoke(store, token=sys.stdin.readline().strip())
        print(f"revoked {removed} key(s)")
        return 0 if removed else 1
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
