from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class CapaSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CAPA_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///var/capa.sqlite"
