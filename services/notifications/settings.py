from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings

from .domain import DEFAULT_RETRY_SCHEDULE


class NotificationsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFICATIONS_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///var/notifications.sqlite"
    consumer_group: str = "notifications"
    # SSRF allow-list: networks a target may resolve into even though they are
    # private or loopback, e.g. ["127.0.0.0/8"] for development. Empty in production.
    allowed_networks: list[str] = []
    # Seconds to wait after each failed attempt; dead-lettered after the last.
    retry_schedule: list[float] = Field(default=list(DEFAULT_RETRY_SCHEDULE), min_length=1)
    retry_jitter: float = Field(default=0.2, ge=0, lt=1)
    # httpx's limit per phase (connect, each read, each write) of a webhook or Slack call.
    delivery_timeout: float = Field(default=10.0, gt=0)
    # One attempt from start to answer (DNS check, connect, send, read; SMTP too):
    # a trickling receiver that beats every per-phase timeout is cut here.
    delivery_deadline: float = Field(default=30.0, gt=0)
    # A worker's claim on a delivery lasts delivery_deadline + this margin (time to
    # record the result). A replica killed mid-attempt leaves claims that another
    # replica takes over once they expire, so this bounds how late that resend is.
    delivery_claim_margin: float = Field(default=30.0, gt=0)
    delivery_poll_interval: float = Field(default=0.5, gt=0)
    delivery_concurrency: int = Field(default=50, ge=1, le=1000)
    delivery_batch_size: int = Field(default=500, ge=1, le=5000)
    # How often the digest task looks for a finished day/week to summarise.
    digest_check_interval: float = Field(default=300.0, gt=0)
    # How often the bulletin task looks for a finished month to publish (seconds).
    bulletin_check_interval: float = Field(default=3600.0, gt=0)
    stream_poll_interval: float = Field(default=0.5, gt=0)
    stream_keepalive_interval: float = Field(default=15.0, gt=0)
    # A stream ends after this long; EventSource clients reconnect with Last-Event-ID.
    stream_max_duration: float = Field(default=300.0, gt=0)
    # Live streams one caller may hold open at once in this process (429 beyond);
    # behind N replicas that is up to N times as many.
    stream_max_per_principal: int = Field(default=5, ge=1, le=1000)
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_start_tls: bool = False
    mail_from: str = "CAPAflow <capaflow@localhost>"
    # Reminders and overdue notices e-mailed to the owner of the action or CAPA
    # (domain.owner_notices), whether or not anyone subscribed.
    owner_notices: bool = True
    # Owners that are not e-mail addresses are written to at <owner>@<this domain>;
    # unset, only owners that are addresses get owner notices.
    owner_email_domain: str | None = Field(
        default=None, pattern=r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
                              r"[A-Za-z][A-Za-z0-9-]{0,62}$")
    # Links in e-mails, Slack messages and feeds point at these services.
    public_base_url: str = "http://127.0.0.1:8002"
    nonconformity_base_url: str = "http://127.0.0.1:8001"
    feed_base_url: str = "http://127.0.0.1:8003"
    # The web UI's address: set, links point at its pages instead of the APIs.
    ui_base_url: str | None = None
