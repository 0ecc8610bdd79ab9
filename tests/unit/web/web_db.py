"""The UI's session store for a test: migrated once per test process (Alembic takes
a moment), then copied, so every app under test starts with an empty store."""

import shutil
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path

from shared.migrations import upgrade

WEB_MIGRATIONS = Path(__file__).resolve().parents[3] / "services" / "web" / "migrations"


@cache
def _migrated_template() -> Path:
    path = Path(tempfile.mkdtemp(prefix="capaflow-web-db-")) / "web.sqlite"
    # In a thread of its own: Alembic's env runs an event loop, and async tests
    # call this from theirs.
    with ThreadPoolExecutor(1) as thread:
        thread.submit(upgrade, WEB_MIGRATIONS, f"sqlite+aiosqlite:///{path}").result()
    return path


def fresh_web_db(directory: Path) -> str:
    """A database URL for a new, migrated, empty SQLite store under ``directory``."""
    path = directory / f"web-{uuid.uuid4().hex[:8]}.sqlite"
    shutil.copyfile(_migrated_template(), path)
    return f"sqlite+aiosqlite:///{path}"
