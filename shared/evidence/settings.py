"""The evidence settings of a service that takes evidence files (nonconformity
and capa), each under its own prefix: ``NONCONFORMITY_EVIDENCE_STORE``,
``CAPA_EVIDENCE_S3_BUCKET`` and so on (docs/nonconformity.md, "Evidence files")."""

from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .store import DatabaseEvidenceStore, EvidenceSetup, EvidenceStore


class EvidenceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    # Largest evidence file in bytes (*_EVIDENCE_MAX_BYTES); an upload is cut off
    # with 413 as soon as it passes this, never read to its end.
    evidence_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1, le=1024 * 1024 * 1024)
    # Where evidence bytes are kept: "database" (the service's own, the default) or
    # "s3" (an S3-compatible object store, the settings below). The attachment rows
    # are in the service's database either way.
    evidence_store: Literal["database", "s3"] = "database"
    # The store's URL, e.g. https://s3.eu-central-1.amazonaws.com or
    # http://seaweedfs.internal:8333: the only host the S3 client connects to.
    evidence_s3_endpoint: str | None = None
    # An existing bucket; one per service keeps their files apart.
    evidence_s3_bucket: str | None = None
    # The bucket's region, part of every request's signature ("us-east-1" for most
    # S3-compatible servers).
    evidence_s3_region: str = "us-east-1"
    # A key allowed s3:GetObject and s3:PutObject on the bucket (HeadObject is GetObject's).
    evidence_s3_access_key_id: SecretStr | None = None
    evidence_s3_secret_access_key: SecretStr | None = None
    # Seconds to connect to, and then to wait for, the store before the request is a 503.
    evidence_s3_timeout: float = Field(default=10.0, gt=0, le=300)

    @model_validator(mode="after")
    def _s3_is_complete(self) -> Self:
        if self.evidence_store == "s3":
            missing = [name for name in ("evidence_s3_endpoint", "evidence_s3_bucket",
                                         "evidence_s3_access_key_id",
                                         "evidence_s3_secret_access_key")
                       if not getattr(self, name)]
            if missing:
                prefix = str(self.model_config.get("env_prefix", "")).upper()
                names = ", ".join(prefix + name.upper() for name in missing)
                raise ValueError(f"{prefix}EVIDENCE_STORE is s3 but {names} "
                                 f"{'is' if len(missing) == 1 else 'are'} not set")
        return self

    def evidence_setup(self) -> EvidenceSetup:
        return EvidenceSetup(store=self._evidence_store(), max_bytes=self.evidence_max_bytes)

    def _evidence_store(self) -> EvidenceStore:
        if self.evidence_store == "database":
            return DatabaseEvidenceStore()
        # Imported here: boto3 takes a while to import, and only this store needs it.
        from .s3 import S3EvidenceStore

        assert self.evidence_s3_endpoint and self.evidence_s3_bucket  # the validator's
        assert self.evidence_s3_access_key_id and self.evidence_s3_secret_access_key
        return S3EvidenceStore(
            endpoint=self.evidence_s3_endpoint, bucket=self.evidence_s3_bucket,
            region=self.evidence_s3_region,
            access_key_id=self.evidence_s3_access_key_id.get_secret_value(),
            secret_access_key=self.evidence_s3_secret_access_key.get_secret_value(),
            timeout=self.evidence_s3_timeout)
