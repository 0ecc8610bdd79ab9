from pathlib import Path
from typing import Any

from sqlalchemy import event, text

from shared.db import create_engine, session_factory, transaction


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
