from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class NonconformitySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NONCONFORMITY_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///var/nonconformity.sqlite"
