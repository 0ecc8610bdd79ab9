"""Choosing the evidence store from a service's settings: the database by default,
the S3-compatible store only when it is fully configured (a start-up error that
names what is missing, under the service's prefix, otherwise)."""

import pytest
from pydantic import ValidationError

from services.capa.settings import CapaSettings
from services.nonconformity.settings import NonconformitySettings
from shared.evidence.s3 import S3EvidenceStore
from shared.evidence.store import DatabaseEvidenceStore

S3 = {"NONCONFORMITY_EVIDENCE_STORE": "s3",
      "NONCONFORMITY_EVIDENCE_S3_ENDPOINT": "http://127.0.0.1:9",
      "NONCONFORMITY_EVIDENCE_S3_BUCKET": "nc-evidence",
      "NONCONFORMITY_EVIDENCE_S3_ACCESS_KEY_ID": "key-id",
      "NONCONFORMITY_EVIDENCE_S3_SECRET_ACCESS_KEY": "secret"}


def test_the_database_store_is_the_default() -> None:
    setup = CapaSettings().evidence_setup()
    assert isinstance(setup.store, DatabaseEvidenceStore)
    assert setup.max_bytes == 10 * 1024 * 1024


def test_s3_settings_are_read_under_the_service_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in S3.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("NONCONFORMITY_EVIDENCE_S3_REGION", "eu-central-1")
    store = NonconformitySettings().evidence_setup().store
    assert isinstance(store, S3EvidenceStore)
    assert (store.endpoint, store.bucket) == ("http://127.0.0.1:9", "nc-evidence")
    assert store._client.meta.region_name == "eu-central-1"
    # The CAPA service reads its own prefix only.
    assert isinstance(CapaSettings().evidence_setup().store, DatabaseEvidenceStore)


@pytest.mark.parametrize("missing", [name for name in S3 if name != "NONCONFORMITY_EVIDENCE_STORE"])
def test_s3_without_one_of_its_settings_does_not_start(monkeypatch: pytest.MonkeyPatch,
                                                       missing: str) -> None:
    for name, value in S3.items():
        if name != missing:
            monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as refused:
        NonconformitySettings()
    assert f"NONCONFORMITY_EVIDENCE_STORE is s3 but {missing} is not set" in str(refused.value)


def test_an_unknown_store_does_not_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAPA_EVIDENCE_STORE", "filesystem")
    with pytest.raises(ValidationError):
        CapaSettings()
