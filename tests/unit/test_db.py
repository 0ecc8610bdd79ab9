from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from shared.db import (
    commit_listener,
    commit_signal,
    create_engine,
    session_factory,
    signal_on_commit,
    transaction,
)


async def test_sqlite_writes_take_the_lock_up_front_and_reads_do_not(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.sqlite'}")
    begins: list[str] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("BEGIN"):
            begins.append(statement)

    sessions = session_factory(engine)
    try:
        async with transaction(sessions) as session:
            await session.exec(text("CREATE TABLE t (x INTEGER)"))  # type: ignore[call-overload]
        async with sessions() as session:
            await session.exec(text("SELECT 1"))  # type: ignore[call-overload]
    finally:
        await engine.dispose()
    assert begins == ["BEGIN IMMEDIATE", "BEGIN"]


async def test_commit_signal_is_set_by_commits_that_asked_for_it_and_only_those(
        tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.sqlite'}")
    other_engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'y.sqlite'}")
    sessions, other_sessions = session_factory(engine), session_factory(other_engine)
    try:
        async with transaction(sessions) as session:
            await session.exec(text("CREATE TABLE t (x INTEGER)"))  # type: ignore[call-overload]
        with commit_signal(sessions, "work") as work, \
                commit_signal(sessions, "other") as other, \
                commit_signal(other_sessions, "work") as elsewhere:
            async def insert(*, signal: bool, fail: bool = False) -> None:
                async with transaction(sessions) as session:
                    await session.exec(text("INSERT INTO t VALUES (1)"))  # type: ignore[call-overload]
                    if signal:
                        signal_on_commit(session, "work")
                    if fail:
                        raise RuntimeError("use case failed")

            await insert(signal=False)
            assert not work.is_set()
            with pytest.raises(RuntimeError):
                await insert(signal=True, fail=True)
            assert not work.is_set(), "a rolled-back transaction left no work"

            await insert(signal=True)
            assert work.is_set()
            assert not other.is_set() and not elsewhere.is_set()

            work.clear()
            async with transaction(sessions) as session:
                async with session.begin_nested():
                    signal_on_commit(session, "work")
                assert not work.is_set(), "a released savepoint is not visible to others yet"
            assert work.is_set()
    finally:
        await engine.dispose()
        await other_engine.dispose()


async def test_a_commit_hands_its_items_to_the_listeners_of_its_channel_and_database(
        tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.sqlite'}")
    other_engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'y.sqlite'}")
    sessions, other_sessions = session_factory(engine), session_factory(other_engine)
    got: list[tuple[Any, ...]] = []
    elsewhere: list[tuple[Any, ...]] = []

    def broken(_items: tuple[Any, ...]) -> None:
        raise RuntimeError("a listener's bug")

    try:
        with commit_listener(sessions, "queued", got.append), \
                commit_listener(sessions, "queued", broken), \
                commit_listener(other_sessions, "queued", elsewhere.append), \
                commit_signal(sessions, "queued") as wake:
            with pytest.raises(RuntimeError):
                async with transaction(sessions) as session:
                    signal_on_commit(session, "queued", [0])
                    raise RuntimeError("use case failed")
            assert got == [] and not wake.is_set(), "a rollback hands out nothing"

            # Every call of the transaction, in order, once it committed (a failing
            # listener neither stops the others nor fails the committed use case).
            async with transaction(sessions) as session:
                signal_on_commit(session, "queued", [1, 2])
                async with session.begin_nested():
                    signal_on_commit(session, "queued", [3])
                assert got == []
            assert got == [(1, 2, 3)] and wake.is_set()
            assert elsewhere == []
        async with transaction(sessions) as session:
            signal_on_commit(session, "queued", [4])
        assert got == [(1, 2, 3)], "a listener that left hears nothing more"
    finally:
        await engine.dispose()
        await other_engine.dispose()
