
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from shared.evidence.settings import EvidenceSettings
from shared.settings import ServiceSettings

from .domain.ownership import OwnerPolicy, parse_owner_policy
from .supplier_settings import SupplierSettings


def _default_due_days() -> dict[str, int]:
    return {"critical": 30, "major": 60, "minor": 90, "observation": 120}


class CapaSettings(ServiceSettings, EvidenceSettings, SupplierSettings):
    # Evidence files: *_EVIDENCE_MAX_BYTES, *_EVIDENCE_STORE (database or s3) and the
    # S3 store's settings, under this prefix (shared/evidence/settings.py).
    model_config = SettingsConfigDict(env_prefix="CAPA_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///var/capa.sqlite"
    # Days from opening to the CAPA's due date, per severity
    # (CAPA_DUE_DAYS='{"critical": 14, "major": 45, "minor": 90, "observation": 120}').
    due_days: dict[str, int] = Field(default_factory=_default_due_days)
    # Likelihood (1-5) of an escalated NC's recurrence when nobody assessed it yet.
    default_likelihood: int = Field(default=3, ge=1, le=5)
    # The consumer group reading nonconformity.events; replicas share it.
    consumer_group: str = "capa"
    # How often the overdue job looks for overdue actions and CAPAs (seconds).
    overdue_check_interval: float = Field(default=300.0, gt=0)
    # Reminders: actions and CAPAs due within this many days (0: on the due day only)
    # are reminded once per due date; effectiveness checks once their day has come.
    reminder_days: int = Field(default=3, ge=0, le=365)
    # How often the reminder job looks for them (seconds).
    reminder_check_interval: float = Field(default=300.0, gt=0)
    # How often quality objectives are judged, announcing off/on-track transitions (s).
    objective_check_interval: float = Field(default=900.0, gt=0)
    # Keys the audit trail's hashes (HMAC-SHA256) so an edit re-hashed without it
    # shows. Not stored in the database; `make run` generates one under var/.
    # Unset: entries are plain SHA-256 and the service logs a warning.
    audit_key: SecretStr | None = Field(default=None, min_length=32)
    # Electronic signatures (docs/signatures.md). Required: approving the root-cause
    # analysis, recording an effectiveness verification and closing are refused
    # unsigned (regulated use). Off: a signature is optional, and recorded when given.
    signatures_required: bool = False
    # A signer must have authenticated at the provider at most this long ago (§11.200).
    signature_max_age_minutes: float = Field(default=5.0, gt=0, le=60)

    # Who owns a CAPA an escalation opens when its NC has no owner (domain/ownership.py):
    # CAPA_OWNER_POLICY='{"monitoring": "sre-lead", "audit": "qa-lead",
    # "category:payments": "payments-lead", "severity:critical": "qa-lead",
    # "*": "quality-manager"}'. Empty: such CAPAs open without an owner.
    owner_policy: dict[str, str] = Field(default_factory=dict)

    @field_validator("owner_policy")
    @classmethod
    def _owner_policy_parses(cls, value: dict[str, str]) -> dict[str, str]:
        parse_owner_policy(value)  # a typo is a start-up error, not CAPAs nobody owns
        return value

    def owners(self) -> OwnerPolicy:
        return parse_owner_policy(self.owner_policy)
