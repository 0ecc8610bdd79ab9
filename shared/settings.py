"""Settings shared by every service.

Each service subclasses :class:`ServiceSettings` with its own env prefix
(``NONCONFORMITY_``, ``CAPA_``, ``NOTIFICATIONS_``). Nothing here is read at
import time: a settings object exists only where a composition root builds one.
"""

from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.oidc_claims import OidcConfig, parse_role_map


class OidcSettings(BaseSettings):
    """Sign-in through an OpenID Connect provider (docs/sign-in.md). Off without an
    issuer: the embedded default knows API keys only."""

    model_config = SettingsConfigDict(extra="ignore")

    # e.g. https://keycloak.example.com/realms/capaflow; its discovery document is
    # <issuer>/.well-known/openid-configuration.
    oidc_issuer: str | None = None
    # What access tokens must carry in "aud" to be meant for CAPAflow's services.
    oidc_audience: str = "capaflow-api"
    # Dotted path of the roles in a token: realm_access.roles (Keycloak), groups
    # (Okta), roles (Entra ID app roles).
    oidc_roles_claim: str = "realm_access.roles"
    # "claim-value=role,...", e.g. "capa-managers=manager"; empty: a value that is a
    # role's name is that role.
    oidc_role_map: str = ""
    # The claim naming the person in the audit trail and ownership.
    oidc_subject_claim: str = "preferred_username"
    # True only for a provider whose e-mail claims are all verified yet that sends
    # no email_verified; off, an address counts only with email_verified true.
    oidc_email_trusted: bool = False
    oidc_leeway_seconds: int = Field(default=30, ge=0, le=300)

    @field_validator("oidc_role_map")
    @classmethod
    def _role_map_parses(cls, value: str) -> str:
        parse_role_map(value)  # a typo is a start-up error, not a person without roles
        return value

    @field_validator("oidc_issuer")
    @classmethod
    def _blank_is_off(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    def oidc_config(self) -> OidcConfig | None:
        if not self.oidc_issuer:
            return None
        return OidcConfig(issuer=self.oidc_issuer, audience=self.oidc_audience,
                          roles_claim=self.oidc_roles_claim,
                          role_map=parse_role_map(self.oidc_role_map),
                          subject_claim=self.oidc_subject_claim,
                          email_trusted=self.oidc_email_trusted,
                          leeway_seconds=self.oidc_leeway_seconds)


class ServiceSettings(OidcSettings):
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
