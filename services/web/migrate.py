"""``python -m services.web.migrate``: apply the UI's session-store migrations."""

from pathlib import Path

from shared.migrations import upgrade

from .settings import WebSettings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def migrate(settings: WebSettings) -> None:
    upgrade(MIGRATIONS, settings.database_url)


if __name__ == "__main__":
    migrate(WebSettings())
