"""Settings shared by every service.

Each service subclasses :class:`ServiceSettings` with its own env prefix
(``NONCONFORMITY_``, ``CAPA_``, ``NOTIFICATIONS_``). Nothing here is read at
import time: a settings object exists only where a composition root builds one.
"""

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    database_url: str = "sqlite+aiosqlite:///var/service.sqlite"
    # "sql" is the embedded default (an event-log table); "kafka" is production.
    bus: Literal["sql", "kafka"] = "sql"
    # Only for bus=sql: the database holding the shared event log.
    bus_database_url: str = "sqlite+aiosqlite:///var/events.sqlite"
    kafka_bootstrap_servers: str = "127.0.0.1:19092"
    # Prefix for every topic and consumer group, e.g. "staging." on a shared cluster.
    kafka_namespace: str = Field(default="", pattern=r"^[A-Za-z0-9._-]{0,100}$")
    # Start the outbox relay and the consumers in the app's lifespan. A worker
    # deployment can run them apart from the API by switching this off there.
    run_workers: bool = True
    # 1000: the pipelined relay used ~15 % less CPU per event than with 200 and
    # ran 1.2-1.5x faster (10,000 rows, PostgreSQL + Kafka).
    outbox_batch_size: int = Field(default=1000, ge=1, le=5000)
    relay_poll_interval: float = Field(default=0.1, gt=0)
    consumer_max_attempts: int = Field(default=5, ge=1)
    consumer_retry_backoff: float = Field(default=0.2, ge=0)
    # Hashed API keys (see shared.auth); written by `make run` for development.
    credentials_file: str = "var/api-keys.json"
    # Larger request bodies get 413. 1,000 Alertmanager alerts fit well inside.
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    # OpenTelemetry span export: "none" (default), "console" or "otlp" (OTLP/HTTP to
    # otel_endpoint, else OTEL_EXPORTER_OTLP_ENDPOINT). Trace ids flow either way.
    otel_exporter: Literal["none", "console", "otlp"] = "none"
    otel_endpoint: str | None = None
    log_level: str = "INFO"
    log_json: bool = True
