"""API keys: who is calling and which roles they hold.

Keys are random 32-byte tokens; only their SHA-256 is stored (a slow
password hash buys nothing for a high-entropy secret, and every request pays
it). The key store is a JSON file every service reads (``*_CREDENTIALS_FILE``):
``{"keys": [{"sha256": "...", "subject": "...", "roles": ["manager"]}]}``.
``python -m shared.credentials`` creates keys and prints each one once.
"""

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# People's roles. "admin" holds every role.
ROLES = ("reporter", "engineer", "verifier", "manager", "admin")
# A monitoring source authenticates as the role "source:<name>".
SOURCE_ROLE_PREFIX = "source:"


def source_role(source: str) -> str:
    return f"{SOURCE_ROLE_PREFIX}{source}"


def hash_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    subject: str
    roles: frozenset[str]

    def holds_any(self, roles: Iterable[str]) -> bool:
        wanted = set(roles)
        if "admin" in self.roles and not any(r.startswith(SOURCE_ROLE_PREFIX) for r in wanted):
            return True
        return bool(self.roles & wanted)


class KeyStore:
    def __init__(self, entries: Iterable[tuple[str, Principal]] = ()) -> None:
        self._by_hash = dict(entries)

    @classmethod
    def load(cls, path: Path) -> "KeyStore":
        if not path.is_file():
            return cls()
        raw = json.loads(path.read_text())
        return cls((entry["sha256"], Principal(subject=entry["subject"],
                                               roles=frozenset(entry["roles"])))
                   for entry in raw.get("keys", []))

    def authenticate(self, token: str) -> Principal | None:
        return self._by_hash.get(hash_key(token)) if token else None

    def __len__(self) -> int:
        return len(self._by_hash)
