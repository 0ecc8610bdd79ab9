"""``python -m services.notifications.migrate``: apply this service's migrations."""

from pathlib import Path

from shared.migrations import upgrade

from .settings import NotificationsSettings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def migrate(settings: NotificationsSettings) -> None:
    upgrade(MIGRATIONS, settings.database_url)


if __name__ == "__main__":
    migrate(NotificationsSettings())
