"""``python -m services.capa.migrate``: apply this service's migrations."""

from pathlib import Path

from shared.migrations import upgrade

from .settings import CapaSettings

if __name__ == "__main__":
    upgrade(Path(__file__).resolve().parent / "migrations", CapaSettings().database_url)
