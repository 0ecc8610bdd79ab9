"""``python -m services.notifications.migrate``: apply this service's migrations."""

from pathlib import Path

from shared.migrations import upgrade

from .settings import NotificationsSettings

if __name__ == "__main__":
    upgrade(Path(__file__).resolve().parent / "migrations", NotificationsSettings().database_url)
