"""A deadlock victim is run again (shared.db.retrying_conflicts), on real PostgreSQL.

Seen in the full-loop test: an Alertmanager payload updating twenty NCs and
the consumer's batch of capa.opened events locking some of them in another
order; PostgreSQL aborted the payload's transaction and the sender got a 500.
"""

import asyncio

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import create_engine, retrying_conflicts, session_factory
from tests.conftest import DatabaseFactory


async def test_a_deadlock_victim_runs_again_and_succeeds(
        new_postgres_database: DatabaseFactory) -> None:
    engine = create_engine(await new_postgres_database())
    sessions = session_factory(engine)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE nc (id int PRIMARY KEY, touched int)"))
            await conn.execute(text("INSERT INTO nc VALUES (1, 0), (2, 0)"))

        first_locked = asyncio.Event()
        other_locked = asyncio.Event()

        async def other_transaction() -> None:
            # Locks row 2, then row 1: the opposite order of the work below.
            async with engine.begin() as conn:
                # Slow to detect: the work's transaction is the one PostgreSQL aborts.
                await conn.execute(text("SET LOCAL deadlock_timeout = '10s'"))
                await conn.execute(text("UPDATE nc SET touched = touched + 10 WHERE id = 2"))
                other_locked.set()
                await first_locked.wait()
                await conn.execute(text("UPDATE nc SET touched = touched + 10 WHERE id = 1"))

        attempts: list[int] = []

        async def work(session: AsyncSession) -> str:
            attempts.append(len(attempts) + 1)
            await session.execute(text("SET LOCAL deadlock_timeout = '50ms'"))
            await session.execute(text("UPDATE nc SET touched = touched + 1 WHERE id = 1"))
            if len(attempts) == 1:
                first_locked.set()
                await other_locked.wait()
            await session.execute(text("UPDATE nc SET touched = touched + 1 WHERE id = 2"))
            return "recorded"

        other = asyncio.create_task(other_transaction())
        await other_locked.wait()
        assert await retrying_conflicts(sessions, work) == "recorded"
        await other
        assert attempts == [1, 2], "the first run was the deadlock victim, the second succeeded"
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT id, touched FROM nc ORDER BY id"))).all()
        # Each transaction's effect exactly once: the victim's first run left nothing.
        assert [tuple(r) for r in rows] == [(1, 11), (2, 11)]
    finally:
        await engine.dispose()
