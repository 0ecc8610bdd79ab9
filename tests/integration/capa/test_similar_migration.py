"""Migration 0008 (similar-lessons indexes) on a database holding lessons and root
causes written before it: they are searchable after the upgrade; the downgrade
removes the indexes and link tables and keeps every lesson; upgrading again
indexes what was written meanwhile. SQLite and PostgreSQL."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, text

from services.capa.service.similar import similar_lessons
from shared.db import SessionFactory, create_engine, session_factory, utcnow
from shared.migrations import upgrade
from tests.conftest import SERVICE_MIGRATIONS, DatabaseFactory
from tests.integration.capa.similar_seed import seed_lesson, seed_root_cause

BEFORE = "0007"


def _downgrade(url: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(SERVICE_MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.downgrade(config, revision)


@pytest.fixture(params=["sqlite", "postgres"])
async def url(request: pytest.FixtureRequest, new_sqlite_database: DatabaseFactory,
              new_postgres_database: DatabaseFactory) -> str:
    database = new_postgres_database if request.param == "postgres" else new_sqlite_database
    return await database()


@pytest.fixture
async def sessions(url: str) -> AsyncIterator[SessionFactory]:
    await asyncio.to_thread(upgrade, SERVICE_MIGRATIONS, url, BEFORE)
    engine = create_engine(url, pool_size=2)
    yield session_factory(engine)
    await engine.dispose()


async def _found(sessions: SessionFactory, words: str) -> list[str]:
    page = await similar_lessons(sessions, text=words, capa_id=None, limit=10, now=utcnow())
    return [item.capa_number for item in page.items]


async def _tables(sessions: SessionFactory) -> set[str]:
    async with sessions() as session:
        connection = await session.connection()
        names = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
    return names


async def test_upgrade_indexes_old_rows_and_downgrade_keeps_them(
        url: str, sessions: SessionFactory) -> None:
    old = await seed_lesson(sessions, title="Gateway timeout at checkout",
                            problem="Payments timed out", root_cause="No retry budget",
                            lesson="Budget retries")
    cause = await seed_root_cause(sessions, title="Seal leak",
                                  problem="Seals leak at 80 C",
                                  whys=[("Why?", "The gasket compound hardens")],
                                  root_cause="The spec omits the temperature")
    await asyncio.to_thread(upgrade, SERVICE_MIGRATIONS, url)
    assert await _found(sessions, "gateway timeouts") == [old["number"]]
    assert await _found(sessions, "gasket hardened") == [cause["number"]]
    assert {"capa_lesson_links", "capa_lesson_suggestions"} <= await _tables(sessions)

    await asyncio.to_thread(_downgrade, url, BEFORE)
    tables = await _tables(sessions)
    assert not {"capa_lesson_links", "capa_lesson_suggestions", "capa_similar_fts"} & tables
    async with sessions() as session:
        connection = await session.connection()
        assert (await connection.execute(text("SELECT count(*) FROM capa_lessons"))).scalar() == 1
    # Written while downgraded (no trigger may refer to the dropped index)...
    later = await seed_lesson(sessions, title="Gateway timeout in the mobile app",
                              problem="The app timed out", root_cause="No retry budget",
                              lesson="Budget retries in the app too")
    # ... and found once upgraded again.
    await asyncio.to_thread(upgrade, SERVICE_MIGRATIONS, url)
    assert sorted(await _found(sessions, "gateway timeout")) == sorted(
        [old["number"], later["number"]])


def test_downgrade_on_an_empty_database(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'empty.sqlite'}"
    upgrade(SERVICE_MIGRATIONS, url)
    _downgrade(url, BEFORE)
    upgrade(SERVICE_MIGRATIONS, url)
