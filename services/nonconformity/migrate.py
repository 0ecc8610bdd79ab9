"""``python -m services.nonconformity.migrate``: apply this service's migrations."""

from pathlib import Path

from shared.migrations import upgrade

from .settings import NonconformitySettings

if __name__ == "__main__":
    upgrade(Path(__file__).resolve().parent / "migrations", NonconformitySettings().database_url)
