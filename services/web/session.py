"""Sign-in sessions and CSRF protection, kept in the UI's own database.

A person signs in with their API key, or at the company's OpenID Connect provider
(services/web/oidc_login.py), whose access token then stands where the key
would. Neither reaches the browser again:
the session cookie carries only a random id (HttpOnly, SameSite=Lax). Sessions
live in a table every UI replica reads, so any replica serves any signed-in
person, and signing out on one ends the session on all of them (docs/ui.md).

The table is no second key store: a row is found by SHA-256 of the session id,
never the id itself, and the API key (like a shown-once signing secret) is sealed
with AES-GCM under a key derived from the id (HKDF-SHA256; session_seal.py). The
id exists only in the person's cookie, so a copy of the database opens nothing,
and a row cannot be used without the cookie that made it.

Every state-changing form carries the session's CSRF token (synchroniser token
pattern); the sign-in form, which has no session yet, uses a double-submit cookie.
"""

import json
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidTag
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.auth import Principal
from shared.db import WRITES, utcnow

from .models import web_sessions, web_shown_once, web_sign_ins
from .session_seal import Sealer, id_hash

SESSION_COOKIE = "capaflow_session"
LOGIN_CSRF_COOKIE = "capaflow_login_csrf"
# A secret not shown within this time (the page after create or rotate was never
# opened) is dropped.
SECRET_TTL = timedelta(minutes=10)
# A sign-in at the provider not completed within this time must start again.
SIGN_IN_TTL = timedelta(minutes=10)
# Longer than any id open() makes: such a cookie is no session, without a lookup.
MAX_SID_LENGTH = 100


@dataclass(eq=False)
class UserSession:
    sid: str = field(repr=False)
    key: str = field(repr=False)
    principal: Principal
    csrf_token: str
    # One-shot messages shown on the next page ("CAPA-2026-0001 opened").
    flashes: list[tuple[str, str]] = field(default_factory=list)
    # Signed in at the provider: its refresh token and when `key` (its access token)
    # expires. None for an API key.
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: datetime | None = None
    # Something the store has not written yet (a flash added or shown, a late
    # last_seen); the session middleware saves it before the response leaves.
    dirty: bool = field(default=False, repr=False)

    @property
    def subject(self) -> str:
        return self.principal.subject

    def holds_any(self, *roles: str) -> bool:
        return self.principal.holds_any(roles)

    def flash(self, message: str, kind: str = "info") -> None:
        self.flashes.append((kind, message))
        self.dirty = True

    def pop_flashes(self) -> list[tuple[str, str]]:
        shown, self.flashes = self.flashes, []
        self.dirty = self.dirty or bool(shown)
        return shown


@dataclass(frozen=True)
class SignInFlow:
    state: str
    nonce: str
    verifier: str
    next_path: str
    # The signed move waiting for the re-authentication (pages/signing.py).
    signing: dict[str, Any] | None = None


class SessionStore:
    """Sessions and shown-once secrets in the UI's database (one per deployment,
    shared by its replicas). Idle expiry is judged on every read; expired rows are
    deleted when found, and all of them at each sign-in."""

    def __init__(self, engine: AsyncEngine, idle_seconds: float) -> None:
        self._engine = engine
        self._idle = timedelta(seconds=idle_seconds)
        # last_seen is rewritten at most this often: a page view costs one read, not
        # a read and a write, and the idle timeout ends at most a tenth early.
        self._touch_every = min(timedelta(minutes=1), self._idle / 10)

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[AsyncConnection]:
        # A write transaction (BEGIN IMMEDIATE on SQLite, see shared.db).
        async with self._engine.connect() as conn:
            conn = await conn.execution_options(**WRITES)
            async with conn.begin():
                yield conn

    async def open(self, key: str, principal: Principal,
                   flash: tuple[str, str] | None = None, *, refresh_token: str | None = None,
                   expires_at: datetime | None = None) -> UserSession:
        """A new session with a fresh random id (a new one on every sign-in)."""
        sid = secrets.token_urlsafe(32)
        session = UserSession(sid=sid, key=key, principal=principal,
                              csrf_token=secrets.token_urlsafe(32),
                              flashes=[flash] if flash else [],
                              refresh_token=refresh_token, expires_at=expires_at)
        sealer = Sealer(sid)
        now = utcnow()
        async with self._writing() as conn:
            await conn.execute(delete(web_sessions).where(
                web_sessions.c.last_seen < now - self._idle))
            await conn.execute(delete(web_shown_once).where(
                web_shown_once.c.created_at < now - SECRET_TTL))
            await conn.execute(delete(web_sign_ins).where(
                web_sign_ins.c.created_at < now - SIGN_IN_TTL))
            await conn.execute(insert(web_sessions).values(
                id_hash=id_hash(sid), subject=principal.subject,
                roles=json.dumps(sorted(principal.roles)),
                api_key=sealer.seal(key, "api_key"), csrf_token=session.csrf_token,
                flashes=json.dumps(session.flashes), created_at=now, last_seen=now,
                display_name=principal.name, token_expires_at=expires_at,
                refresh_token=sealer.seal(refresh_token, "refresh_token")
                if refresh_token else None))
        return session

    async def get(self, sid: str | None) -> UserSession | None:
        """The session whose id the cookie carries, unless it ended or idled out."""
        if not sid or len(sid) > MAX_SID_LENGTH:
            return None
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(web_sessions).where(
                web_sessions.c.id_hash == id_hash(sid)))).first()
        if row is None:
            return None
        now = utcnow()
        if now - row.last_seen > self._idle:
            await self.close(sid)
            return None
        sealer = Sealer(sid)
        try:
            key = sealer.open(row.api_key, "api_key")
            refresh = sealer.open(row.refresh_token, "refresh_token") \
                if row.refresh_token else None
        except InvalidTag:  # a row written over by hand: no session
            await self.close(sid)
            return None
        oidc = row.token_expires_at is not None
        principal = Principal(subject=row.subject, roles=frozenset(json.loads(row.roles)),
                              name=row.display_name, method="oidc" if oidc else "api_key")
        return UserSession(sid=sid, key=key, principal=principal, csrf_token=row.csrf_token,
                           flashes=[(k, m) for k, m in json.loads(row.flashes)],
                           refresh_token=refresh, expires_at=row.token_expires_at,
                           dirty=now - row.last_seen >= self._touch_every)

    async def renew_tokens(self, session: UserSession, key: str, refresh_token: str | None,
                           expires_at: datetime) -> None:
        """The provider's new tokens after a refresh (the old refresh token may be spent)."""
        sealer = Sealer(session.sid)
        values = {"api_key": sealer.seal(key, "api_key"), "token_expires_at": expires_at}
        if refresh_token:
            values["refresh_token"] = sealer.seal(refresh_token, "refresh_token")
        async with self._writing() as conn:
            await conn.execute(update(web_sessions).where(
                web_sessions.c.id_hash == id_hash(session.sid)).values(**values))
        session.key, session.expires_at = key, expires_at
        session.refresh_token = refresh_token or session.refresh_token

    async def begin_sign_in(self, next_path: str, signing: dict[str, Any] | None = None
                            ) -> tuple[str, str, str, str]:
        """A sign-in at the provider: (flow id for the cookie, state, nonce,
        code_verifier). Only the flow id's hash and the sealed secrets are stored.
        ``signing``: the move a person re-authenticates to sign (pages/signing.py),
        sealed with the secrets and applied by the callback."""
        flow, state = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(48)
        sealed = Sealer(flow).seal(json.dumps([nonce, verifier, signing]), "sign_in")
        async with self._writing() as conn:
            await conn.execute(insert(web_sign_ins).values(
                flow_hash=id_hash(flow), state=state, secrets=sealed, next_path=next_path,
                created_at=utcnow()))
        return flow, state, nonce, verifier

    async def take_sign_in(self, flow: str | None) -> tuple[str, str, str, str] | None:
        """(state, nonce, code_verifier, next path) of the flow, removed as it is read
        (a callback is answered once), or None when unknown or too old."""
        taken = await self.take_flow(flow)
        return None if taken is None else (taken.state, taken.nonce, taken.verifier,
                                           taken.next_path)

    async def take_flow(self, flow: str | None) -> "SignInFlow | None":
        """The flow with the move it signs, if any; removed as it is read."""
        if not flow or len(flow) > MAX_SID_LENGTH:
            return None
        async with self._writing() as conn:
            row = (await conn.execute(delete(web_sign_ins).where(
                web_sign_ins.c.flow_hash == id_hash(flow)).returning(
                web_sign_ins.c.state, web_sign_ins.c.secrets, web_sign_ins.c.next_path,
                web_sign_ins.c.created_at))).first()
        if row is None or utcnow() - row.created_at >= SIGN_IN_TTL:
            return None
        try:
            nonce, verifier, *signing = json.loads(Sealer(flow).open(row.secrets, "sign_in"))
        except InvalidTag:
            return None
        return SignInFlow(row.state, nonce, verifier, row.next_path,
                          signing[0] if signing else None)

    async def save(self, session: UserSession) -> None:
        """Writes the flashes and marks the session seen now. An UPDATE only: a
        session ended meanwhile (signed out in another tab) stays ended."""
        if not session.dirty:
            return
        async with self._writing() as conn:
            await conn.execute(update(web_sessions).where(
                web_sessions.c.id_hash == id_hash(session.sid)).values(
                flashes=json.dumps(session.flashes), last_seen=utcnow()))
        session.dirty = False

    async def close(self, sid: str | None) -> None:
        """Ends the session on every replica, with any secret it still held."""
        if not sid or len(sid) > MAX_SID_LENGTH:
            return
        hashed = id_hash(sid)
        async with self._writing() as conn:
            await conn.execute(delete(web_shown_once).where(
                web_shown_once.c.session_hash == hashed))
            await conn.execute(delete(web_sessions).where(web_sessions.c.id_hash == hashed))

    async def keep_secret(self, session: UserSession, subscription_id: str,
                          secret: str) -> None:
        """Holds a signing secret for its one showing on the subscription's page."""
        hashed = id_hash(session.sid)
        sealed = Sealer(session.sid).seal(secret, f"secret:{subscription_id}")
        async with self._writing() as conn:
            # A rotation before the first secret was shown: the newer one wins.
            await conn.execute(delete(web_shown_once).where(
                web_shown_once.c.session_hash == hashed,
                web_shown_once.c.subscription_id == subscription_id))
            await conn.execute(insert(web_shown_once).values(
                session_hash=hashed, subscription_id=subscription_id, secret=sealed,
                created_at=utcnow()))

    async def take_secret(self, session: UserSession, subscription_id: str) -> str | None:
        """The secret waiting for this session and subscription, removed as it is
        read: DELETE ... RETURNING, so two replicas cannot both show it."""
        async with self._writing() as conn:
            row = (await conn.execute(delete(web_shown_once).where(
                web_shown_once.c.session_hash == id_hash(session.sid),
                web_shown_once.c.subscription_id == subscription_id).returning(
                web_shown_once.c.secret, web_shown_once.c.created_at))).first()
        if row is None or utcnow() - row.created_at >= SECRET_TTL:
            return None
        try:
            return Sealer(session.sid).open(row.secret, f"secret:{subscription_id}")
        except InvalidTag:
            return None


def tokens_match(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and secrets.compare_digest(str(expected), str(given))
