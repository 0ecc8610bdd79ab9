"""``python -m shared.bus.migrate <url>``: create or upgrade the sql bus's event log."""

import sys
from pathlib import Path

from shared.migrations import upgrade

SCRIPT_LOCATION = Path(__file__).resolve().parent / "migrations"


def migrate(url: str) -> None:
    upgrade(SCRIPT_LOCATION, url)


if __name__ == "__main__":
    migrate(sys.argv[1] if len(sys.argv) > 1 else "sqlite+aiosqlite:///var/events.sqlite")
