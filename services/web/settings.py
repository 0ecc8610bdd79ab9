"""Settings of the web UI (env prefix ``WEB_``)."""

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import OidcSettings


class WebSettings(OidcSettings):
    """WEB_OIDC_ISSUER (and the other WEB_OIDC_* of shared.settings.OidcSettings, set
    as the services' are) plus the client below switch on sign-in at the provider."""

    model_config = SettingsConfigDict(env_prefix="WEB_", extra="ignore")

    # The UI's client at the provider (authorization-code flow with PKCE).
    oidc_client_id: str = "capaflow-web"
    oidc_client_secret: str | None = None
    # Shown on the sign-in button: "Sign in with <name>".
    oidc_provider_name: str = "your company account"
    # Where the provider sends people back; by default this UI's own
    # /sign-in/oidc/callback as the browser reached it. Set it behind a proxy.
    oidc_redirect_url: str | None = None

    # The public APIs the UI calls; it never reads a service's database.
    nonconformity_url: str = "http://127.0.0.1:8001"
    capa_url: str = "http://127.0.0.1:8002"
    notifications_url: str = "http://127.0.0.1:8003"
    # The key store the services read: sign-in checks a key against it to know the
    # person's roles (which buttons to show); the services still authorize every call.
    credentials_file: str = "var/api-keys.json"
    # The UI's own database: sign-in sessions and shown-once secrets, shared by every
    # replica (SQLite for one process; PostgreSQL when the UI runs as several).
    database_url: str = "sqlite+aiosqlite:///var/web.sqlite"
    # Cookies marked Secure; switch on wherever the UI is served over HTTPS.
    cookie_secure: bool = False
    # A session ends after this much inactivity.
    session_idle_minutes: int = Field(default=480, ge=1)
    api_timeout_seconds: float = Field(default=10.0, gt=0)
    # The largest body of any other form (bytes): each becomes one JSON request to a
    # service, which takes at most its *_MAX_BODY_BYTES (4 MiB) anyway.
    form_max_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    # The largest evidence file the upload forms pass on (bytes); set it as the
    # services' *_EVIDENCE_MAX_BYTES. A larger upload is refused (413) as it streams in.
    evidence_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1, le=1024 * 1024 * 1024)
    # OpenTelemetry span export, as the services' (*_OTEL_EXPORTER, *_OTEL_ENDPOINT).
    otel_exporter: Literal["none", "console", "otlp"] = "none"
    otel_endpoint: str | None = None
    log_level: str = "INFO"
