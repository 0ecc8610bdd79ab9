import pytest
from pydantic import ValidationError

from services.capa.settings import CapaSettings
from services.nonconformity.domain import nonconformity_number
from services.nonconformity.settings import NonconformitySettings


def test_each_service_reads_its_own_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NONCONFORMITY_BUS", "kafka")
    monkeypatch.setenv("CAPA_DATABASE_URL", "postgresql+asyncpg://db/capa")
    assert NonconformitySettings().bus == "kafka"
    assert CapaSettings().bus == "sql"
    assert CapaSettings().database_url == "postgresql+asyncpg://db/capa"


def test_an_unknown_bus_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAPA_BUS", "rabbitmq")
    with pytest.raises(ValidationError):
        CapaSettings()


def test_readable_numbers() -> None:
    assert nonconformity_number(2026, 42) == "NC-2026-00042"
