"""A lease for jobs that must run in one replica at a time (PostgreSQL advisory lock).

Periodic jobs (the notifications digest schedule, the capa service's overdue
check, ...) run in every worker replica; each tick, a replica tries the lease
and runs the job only if it got it::

    async with lease(engine, "notifications.digests") as held:
        if held:
            await run_digests(...)

On PostgreSQL the lease is ``pg_try_advisory_lock`` taken on a connection of
its own, held while the job runs and unlocked at the end. The lock belongs to
that connection's server session, so a holder that dies (kill -9, a lost
network) loses it when PostgreSQL drops the connection: no expiry to tune and
no stale lease to clean up. Trying never waits: a replica that does not get it
skips this tick.

On SQLite the lease always holds: a SQLite file is one process's (the
embedded default runs one process per service).

A lease makes concurrent runs rare, not impossible: if the holder's
connection drops mid-job, PostgreSQL releases the lock while the job may still
be running, and another replica can take it. Jobs under a lease must stay
idempotent (e.g. unique constraints with ON CONFLICT DO NOTHING); the lease
saves the duplicate work and the contention, it does not replace them.
"""

import hashlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)


def lease_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for ``name`` (the same in every process)."""
    digest = hashlib.blake2b(f"capaflow-lease:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@asynccontextmanager
async def lease(engine: AsyncEngine, name: str) -> AsyncIterator[bool]:
    """Try the lease ``name``; yields whether this process holds it for the block."""
    if engine.dialect.name != "postgresql":
        yield True
        return
    key = lease_key(name)
    async with engine.connect() as conn:
        held = bool((await conn.execute(text("SELECT pg_try_advisory_lock(:key)"),
                                        {"key": key})).scalar())
        # Session-level locks outlive transactions: end the implicit one the
        # query began, so the job's own work never runs inside it.
        await conn.commit()
        try:
            yield held
        finally:
            if held:
                await _unlock(conn, key, name)


async def _unlock(conn: AsyncConnection, key: int, name: str) -> None:
    try:
        await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
        await conn.commit()
    except Exception:
        # A pooled connection must never keep the lock for its next user:
        # discard it, and the server ends the session and the lock with it.
        log.warning("releasing lease %s failed; dropping its connection", name, exc_info=True)
        await conn.invalidate()
    except BaseException:  # cancelled while unlocking: the same, then stop
        await conn.invalidate()
        raise
