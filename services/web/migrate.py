"""``python -m services.web.migrate``: apply the UI's session-store migrations."""

from pathlib import Path

from shared.migrations import upgrade

from .settings import WebSettings

if __name__ == "__main__":
    upgrade(Path(__file__).resolve().parent / "migrations", WebSettings().database_url)
