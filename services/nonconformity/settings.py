from datetime import timedelta

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.events.base import Severity
from shared.evidence.settings import EvidenceSettings
from shared.settings import ServiceSettings

from .domain import EscalationPolicy
from .domain.webhooks import WebhookSource

# WebhookSource is the domain's; importable from here too, beside the setting it types.
__all__ = ["NonconformitySettings", "WebhookSource"]


class NonconformitySettings(ServiceSettings, EvidenceSettings):
    # Evidence files: *_EVIDENCE_MAX_BYTES, *_EVIDENCE_STORE (database or s3) and the
    # S3 store's settings, under this prefix (shared/evidence/settings.py).
    model_config = SettingsConfigDict(env_prefix="NONCONFORMITY_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///var/nonconformity.sqlite"
    consumer_group: str = "nonconformity"
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
