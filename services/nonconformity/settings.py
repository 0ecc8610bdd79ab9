from datetime import timedelta

from pydantic import BaseModel, Field
from pydantic_settings import SettingsConfigDict

from shared.events.base import Severity
from shared.settings import ServiceSettings

from .domain import EscalationPolicy, Source


class WebhookSource(BaseModel):
    """A generic JSON source: its Standard Webhooks secret and where our fields are
    in its payload (dotted paths, e.g. ``"issue.title"``)."""

    secret: str = Field(min_length=8)
    title: str = "title"
    description: str | None = "description"
    severity: str | None = "severity"
    external_ref: str | None = "id"
    category: str | None = "category"
    affected_item: str | None = "affected_item"
    default_severity: Severity = Severity.minor
    source: Source = Source.monitoring


class NonconformitySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NONCONFORMITY_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///var/nonconformity.sqlite"
    escalate_severities: list[Severity] = [Severity.critical, Severity.major]
    recurrence_threshold: int = Field(default=3, ge=2)
    recurrence_window_days: float = Field(default=30, gt=0)
    # The Alertmanager/Grafana label that carries the severity.
    severity_label: str = "severity"
    # JSON, e.g. NONCONFORMITY_WEBHOOK_SOURCES='{"ci": {"secret": "whsec_..."}}'
    webhook_sources: dict[str, WebhookSource] = {}

    def escalation_policy(self) -> EscalationPolicy:
        return EscalationPolicy(escalate_severities=frozenset(self.escalate_severities),
                                recurrence_threshold=self.recurrence_threshold,
                                recurrence_window=timedelta(days=self.recurrence_window_days))
