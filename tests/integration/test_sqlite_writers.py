"""Several engines and processes writing one SQLite file wait for each other's
write lock instead of failing with "database is locked" (which the API would
answer as a 503): WAL, a busy timeout, and BEGIN IMMEDIATE for every writing
transaction (shared/db.py), so no transaction reads first and then finds its
snapshot stale when it wants to write."""

import asyncio
import sys
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import (
    SQLITE_BUSY_TIMEOUT_MS,
    WRITES,
    SessionFactory,
    create_engine,
    session_factory,
    transaction,
)
from tests.conftest import ROOT

WRITERS_PER_ENGINE = 4
WRITES_PER_WRITER = 40

# A second OS process writing the same file the same way.
_OTHER_PROCESS = """
import asyncio, sys
from sqlalchemy import text
from shared.db import create_engine, session_factory, transaction

async def main(url: str, n: int) -> None:
    engine = create_engine(url)
    sessions = session_factory(engine)
    for _ in range(n):
        async with transaction(sessions) as session:
            conn = await session.connection()
            count = (await conn.execute(text("SELECT count(*) FROM counter"))).scalar()
            await conn.execute(text("INSERT INTO counter (writer, seen) VALUES ('process', :c)"),
                               {"c": count})
    await engine.dispose()

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


async def _write(sessions: SessionFactory, writer: str, *, explicit_begin: bool) -> None:
    for _ in range(WRITES_PER_WRITER):
        # Read, then write, in one transaction: the pattern that fails at once
        # under a deferred BEGIN when another connection wrote in between.
        if explicit_begin:  # the inbox's way: session.begin() plus WRITES
            async with sessions() as session, session.begin():
                await session.connection(execution_options=WRITES)
                await _read_then_write(session, writer)
        else:
            async with transaction(sessions) as session:
                await _read_then_write(session, writer)


async def _read_then_write(session: AsyncSession, writer: str) -> None:
    conn = await session.connection()
    count = (await conn.execute(text("SELECT count(*) FROM counter"))).scalar()
    await conn.execute(text("INSERT INTO counter (writer, seen) VALUES (:w, :c)"),
                       {"w": writer, "c": count})


async def test_two_engines_and_another_process_write_one_file_without_database_locked(
        tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'shared.sqlite'}"
    engines = [create_engine(url), create_engine(url)]
    try:
        async with engines[0].begin() as conn:
            await conn.execute(text("CREATE TABLE counter (id INTEGER PRIMARY KEY "
                                    "AUTOINCREMENT, writer TEXT, seen INTEGER)"))
        other = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _OTHER_PROCESS, url, str(WRITES_PER_WRITER), cwd=ROOT,
            stderr=asyncio.subprocess.PIPE)
        writers = [_write(session_factory(engine), f"engine{e}-{w}", explicit_begin=w % 2 == 1)
                   for e, engine in enumerate(engines) for w in range(WRITERS_PER_ENGINE)]
        results = await asyncio.gather(*writers, return_exceptions=True)
        _, stderr = await asyncio.wait_for(other.communicate(), timeout=120)
        failures = [r for r in results if isinstance(r, BaseException)]
        assert not failures, failures[:3]
        assert other.returncode == 0, stderr.decode()[-2000:]

        async with engines[1].connect() as conn:
            total = (await conn.execute(text("SELECT count(*) FROM counter"))).scalar()
            # Each transaction saw every earlier one: the counts it read are all distinct.
            distinct = (await conn.execute(text(
                "SELECT count(DISTINCT seen) FROM counter"))).scalar()
        expected = (len(engines) * WRITERS_PER_ENGINE + 1) * WRITES_PER_WRITER
        assert total == distinct == expected
    finally:
        for engine in engines:
            await engine.dispose()


async def test_every_sqlite_connection_waits_for_the_lock_in_wal_mode(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.sqlite'}")
    try:
        async with engine.connect() as conn:
            timeout = (await conn.execute(text("PRAGMA busy_timeout"))).scalar()
            mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar()
    finally:
        await engine.dispose()
    assert (timeout, mode) == (SQLITE_BUSY_TIMEOUT_MS, "wal")
