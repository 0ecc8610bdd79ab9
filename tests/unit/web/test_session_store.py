"""The UI's session store on its own database (SQLite here; PostgreSQL in
tests/e2e/test_web_replicas.py): round trip, what the rows hold, idle expiry,
sign-out, shown-once secrets."""

import hashlib
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from services.web.session import SECRET_TTL, SessionStore, UserSession
from shared.auth import Principal
from shared.db import create_engine, utcnow
from tests.unit.web.web_db import fresh_web_db

KEY = "capaflow_live_0123456789abcdefghij"
SECRET = "whsec_c2VjcmV0LXRoYXQtbXVzdC1ub3QtbGVhaw"
ENGINEER = Principal(subject="engineer@example.test", roles=frozenset({"engineer"}))


class Store:
    def __init__(self, store: SessionStore, path: Path) -> None:
        self.store = store
        self.path = path

    def raw(self, sql: str, *args: object) -> list[sqlite3.Row]:
        """The rows as anyone with a copy of the database file would read them."""
        with sqlite3.connect(self.path) as conn:
            conn.row_factory = sqlite3.Row
            return conn.execute(sql, args).fetchall()

    def file_bytes(self) -> bytes:
        # The database and its write-ahead log: everything on disk.
        return b"".join(p.read_bytes() for p in self.path.parent.glob(f"{self.path.name}*"))

    def age(self, sid: str, table: str, column: str, by: timedelta) -> None:
        key = "id_hash" if table == "web_sessions" else "session_hash"
        stamp = (utcnow() - by).strftime("%Y-%m-%d %H:%M:%S.%f")
        with sqlite3.connect(self.path) as conn:
            conn.execute(f"UPDATE {table} SET {column} = ? WHERE {key} = ?",
                         (stamp, hashlib.sha256(sid.encode()).hexdigest()))


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    url = fresh_web_db(tmp_path)
    engine = create_engine(url)
    try:
        yield Store(SessionStore(engine, idle_seconds=600), Path(make_url(url).database or ""))
    finally:
        await engine.dispose()


async def test_a_session_round_trips_through_the_database(store: Store) -> None:
    opened = await store.store.open(KEY, ENGINEER, flash=("info", "Signed in."))
    read = await store.store.get(opened.sid)
    assert read is not None and read is not opened
    assert (read.key, read.principal, read.csrf_token) == (KEY, ENGINEER, opened.csrf_token)
    assert read.pop_flashes() == [("info", "Signed in.")]
    await store.store.save(read)
    again = await store.store.get(opened.sid)
    assert again is not None and again.flashes == []


async def test_the_database_holds_neither_the_cookie_value_nor_the_key(store: Store) -> None:
    session = await store.store.open(KEY, ENGINEER)
    await store.store.keep_secret(session, "5b0f3c1e-0000-4000-8000-000000000001", SECRET)
    [row] = store.raw("SELECT * FROM web_sessions")
    assert row["id_hash"] == hashlib.sha256(session.sid.encode()).hexdigest()
    values = [str(row[c]) for c in row.keys()] + [bytes(row["api_key"]).hex()]
    assert not any(session.sid in v or KEY in v for v in values)
    [held] = store.raw("SELECT * FROM web_shown_once")
    assert SECRET.encode() not in bytes(held["secret"])
    on_disk = store.file_bytes()
    for clear in (session.sid, KEY, SECRET):
        assert clear.encode() not in on_disk, clear


async def test_a_row_opens_only_with_the_cookie_that_made_it(store: Store) -> None:
    first = await store.store.open(KEY, ENGINEER)
    second = await store.store.open("another-key", ENGINEER)
    # Someone who can write the table copies one person's sealed key into their own row.
    with sqlite3.connect(store.path) as conn:
        conn.execute("UPDATE web_sessions SET api_key = (SELECT api_key FROM web_sessions "
                     "WHERE id_hash = ?) WHERE id_hash = ?",
                     (hashlib.sha256(first.sid.encode()).hexdigest(),
                      hashlib.sha256(second.sid.encode()).hexdigest()))
    assert await store.store.get(second.sid) is None
    assert await store.store.get(first.sid + "x") is None
    assert await store.store.get("x" * 500) is None
    assert (await store.store.get(first.sid)) is not None


async def test_an_idle_session_ends_and_its_row_is_deleted(store: Store) -> None:
    session = await store.store.open(KEY, ENGINEER)
    store.age(session.sid, "web_sessions", "last_seen", timedelta(seconds=599))
    assert await store.store.get(session.sid) is not None
    store.age(session.sid, "web_sessions", "last_seen", timedelta(seconds=601))
    assert await store.store.get(session.sid) is None
    assert store.raw("SELECT * FROM web_sessions") == []


async def test_use_keeps_a_session_alive(store: Store) -> None:
    session = await store.store.open(KEY, ENGINEER)
    store.age(session.sid, "web_sessions", "last_seen", timedelta(seconds=590))
    seen = await store.store.get(session.sid)
    assert seen is not None and seen.dirty  # last_seen is due for a rewrite
    await store.store.save(seen)
    [row] = store.raw("SELECT last_seen FROM web_sessions")
    written = datetime.fromisoformat(row["last_seen"]).replace(tzinfo=UTC)
    assert utcnow() - written < timedelta(seconds=30)
    # A page view just after the last write costs no write.
    fresh = await store.store.get(session.sid)
    assert fresh is not None and not fresh.dirty


async def test_a_sign_in_clears_out_expired_sessions(store: Store) -> None:
    old = await store.store.open(KEY, ENGINEER)
    store.age(old.sid, "web_sessions", "last_seen", timedelta(hours=1))
    await store.store.open(KEY, ENGINEER)
    assert len(store.raw("SELECT * FROM web_sessions")) == 1


async def test_sign_out_deletes_the_session_and_what_it_held(store: Store) -> None:
    session = await store.store.open(KEY, ENGINEER)
    other = await store.store.open(KEY, ENGINEER)
    await store.store.keep_secret(session, "sub-1", SECRET)
    await store.store.close(session.sid)
    assert await store.store.get(session.sid) is None
    assert store.raw("SELECT * FROM web_shown_once") == []
    assert [r["id_hash"] for r in store.raw("SELECT id_hash FROM web_sessions")] == [
        hashlib.sha256(other.sid.encode()).hexdigest()]
    # A page that was still running when the session ended does not bring it back.
    session.flash("late")
    await store.store.save(session)
    assert await store.store.get(session.sid) is None


async def test_a_secret_is_shown_once_to_its_own_session_only(store: Store) -> None:
    session = await store.store.open(KEY, ENGINEER)
    other = await store.store.open(KEY, ENGINEER)
    await store.store.keep_secret(session, "sub-1", "whsec_first")
    await store.store.keep_secret(session, "sub-1", SECRET)  # rotated before shown
    assert await store.store.take_secret(other, "sub-1") is None
    assert await store.store.take_secret(session, "sub-2") is None
    assert await store.store.take_secret(session, "sub-1") == SECRET
    assert await store.store.take_secret(session, "sub-1") is None


async def test_a_secret_never_shown_is_dropped_after_its_time(store: Store) -> None:
    session = await store.store.open(KEY, ENGINEER)
    await store.store.keep_secret(session, "sub-1", SECRET)
    store.age(session.sid, "web_shown_once", "created_at", SECRET_TTL + timedelta(seconds=1))
    assert await store.store.take_secret(session, "sub-1") is None
    assert store.raw("SELECT * FROM web_shown_once") == []


def test_a_session_is_not_dirty_until_something_changes() -> None:
    session = UserSession(sid="s", key="k", principal=ENGINEER, csrf_token="t")
    assert session.pop_flashes() == [] and not session.dirty
    session.flash("done", "ok")
    assert session.dirty and session.pop_flashes() == [("ok", "done")]
    assert "key=" not in repr(session) and "sid=" not in repr(session)
