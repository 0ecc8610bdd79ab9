"""API keys: who is calling and which roles they hold.

Keys are random 32-byte tokens; only their SHA-256 is stored (a slow
password hash buys nothing for a high-entropy secret, and every request pays
it). The key store is a JSON file every service reads (``*_CREDENTIALS_FILE``):
``{"keys": [{"sha256": "...", "subject": "...", "roles": ["manager"]}]}``.
``python -m shared.credentials`` creates and revokes keys.

Services hold a :class:`KeyFile`: it re-reads the store when the file
changes, so an added key works and a revoked one stops within
``RELOAD_INTERVAL`` seconds, without a restart.
"""

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

# People's roles. "admin" holds every role.
ROLES = ("reporter", "engineer", "verifier", "manager", "admin")
# A monitoring source authenticates as the role "source:<name>".
SOURCE_ROLE_PREFIX = "source:"
# How stale a service's view of the key store may be (seconds). One stat() per
# interval at most: cheap enough to do on the request path.
RELOAD_INTERVAL = 1.0


def source_role(source: str) -> str:
    return f"{SOURCE_ROLE_PREFIX}{source}"


def hash_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    subject: str
    roles: frozenset[str]
    # From an OpenID Connect token (shared.oidc); an API key knows none of them.
    name: str | None = None
    email: str | None = None
    # When the person last authenticated at the provider (epoch seconds): an
    # electronic signature will need a recent one.
    auth_time: int | None = None
    # "api_key" or "oidc": a tool's key cannot do what needs a person present.
    method: str = "api_key"

    @property
    def is_source(self) -> bool:
        """A monitoring source's token: it may call its own intake and nothing else."""
        return any(r.startswith(SOURCE_ROLE_PREFIX) for r in self.roles)

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
        return cls.parse(path.read_text())

    @classmethod
    def parse(cls, text: str) -> "KeyStore":
        raw = json.loads(text)
        return cls((entry["sha256"], Principal(subject=entry["subject"],
                                               roles=frozenset(entry["roles"])))
                   for entry in raw.get("keys", []))

    def authenticate(self, token: str) -> Principal | None:
        return self._by_hash.get(hash_key(token)) if token else None

    def __len__(self) -> int:
        return len(self._by_hash)


_Signature = tuple[int, int, int, int] | None


class KeyFile:
    """A key store kept in step with its file.

    ``authenticate`` stats the file at most once per ``interval`` and re-reads
    it when its inode, size or mtime changed (``shared.credentials`` replaces
    the file atomically, so the inode changes; a Kubernetes Secret volume swaps
    a symlink, which ``stat`` follows). A file that no longer parses keeps the
    last good store: a half-written edit must not lock everybody out. A file
    that is gone means no keys.
    """

    def __init__(self, path: Path, *, interval: float = RELOAD_INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self._interval = interval
        self._clock = clock
        self._store = KeyStore()
        self._signature: _Signature = None
        self._checked_at = float("-inf")
        self._refresh()

    def _stat(self) -> _Signature:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns)

    def _refresh(self) -> None:
        self._checked_at = self._clock()
        signature = self._stat()
        if signature == self._signature and signature is not None:
            return
        if signature is None:
            if self._signature is not None:
                log.warning("key store %s is gone: every key is refused", self.path)
            self._store, self._signature = KeyStore(), None
            return
        try:
            store = KeyStore.parse(self.path.read_text())
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.error("key store %s could not be read (%s); keeping the %d keys loaded "
                      "before", self.path, exc, len(self._store))
            return
        self._store, self._signature = store, signature
        log.info("key store %s loaded: %d keys", self.path, len(store))

    def authenticate(self, token: str) -> Principal | None:
        if self._clock() - self._checked_at >= self._interval:
            self._refresh()
        principal = self._store.authenticate(token)
        if principal is None and self._checked_at != self._clock():
            # An unknown key may be one added a moment ago (the UI, which reads the
            # file itself, may already have let its owner sign in): look at the file
            # now rather than answer 401 for up to an interval. One stat per refused
            # request; a revoked key still lasts up to the interval.
            self._refresh()
            principal = self._store.authenticate(token)
        return principal

    def __len__(self) -> int:
        return len(self._store)
