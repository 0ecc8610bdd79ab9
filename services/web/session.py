"""Sign-in sessions and CSRF protection.

A person signs in with their API key. The key never reaches the browser again:
the session cookie carries only a random id (HttpOnly, SameSite=Lax), and the
key stays in this process's memory. Sessions therefore end when the UI process
restarts, and several UI replicas need sticky sessions — acceptable for a thin UI
whose only state is "who is signed in" (docs/ui.md).

Every state-changing form carries the session's CSRF token (synchroniser token
pattern); the sign-in form, which has no session yet, uses a double-submit cookie.
"""

import secrets
import time
from dataclasses import dataclass, field

from shared.auth import Principal

SESSION_COOKIE = "capaflow_session"
LOGIN_CSRF_COOKIE = "capaflow_login_csrf"


@dataclass
class UserSession:
    key: str
    principal: Principal
    csrf_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    last_seen: float = field(default_factory=time.monotonic)
    # One-shot messages shown on the next page ("CAPA-2026-0001 opened").
    flashes: list[tuple[str, str]] = field(default_factory=list)

    @property
    def subject(self) -> str:
        return self.principal.subject

    def holds_any(self, *roles: str) -> bool:
        return self.principal.holds_any(roles)

    def flash(self, message: str, kind: str = "info") -> None:
        self.flashes.append((kind, message))

    def pop_flashes(self) -> list[tuple[str, str]]:
        shown, self.flashes = self.flashes, []
        return shown


class SessionStore:
    def __init__(self, idle_seconds: float) -> None:
        self._idle = idle_seconds
        self._sessions: dict[str, UserSession] = {}

    def open(self, key: str, principal: Principal) -> tuple[str, UserSession]:
        self._expire()
        sid = secrets.token_urlsafe(32)
        session = UserSession(key=key, principal=principal)
        self._sessions[sid] = session
        return sid, session

    def get(self, sid: str | None) -> UserSession | None:
        if not sid:
            return None
        session = self._sessions.get(sid)
        if session is None:
            return None
        now = time.monotonic()
        if now - session.last_seen > self._idle:
            del self._sessions[sid]
            return None
        session.last_seen = now
        return session

    def close(self, sid: str | None) -> None:
        if sid:
            self._sessions.pop(sid, None)

    def _expire(self) -> None:
        now = time.monotonic()
        for sid in [s for s, v in self._sessions.items() if now - v.last_seen > self._idle]:
            del self._sessions[sid]


def tokens_match(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and secrets.compare_digest(str(expected), str(given))
