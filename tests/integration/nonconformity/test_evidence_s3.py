"""The S3-compatible evidence store against a real server (SeaweedFS, started by
`make test`): one object per file under its SHA-256, byte for byte; a store that
is down, or has no such bucket, is a 503 with nothing recorded; bytes kept by the
database store before a switch are still served; an object changed in the store
is not served as evidence; AWS files and variables in the environment change
nothing (the settings' endpoint and key are the only ones used).

The rest of the evidence behaviour runs on this store too (test_evidence.py's
"s3" parameter)."""

import hashlib
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing, asynccontextmanager
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
from sqlmodel import select

from services.nonconformity.models import EvidenceAttachment, EvidenceBlob
from shared.evidence.s3 import S3EvidenceStore
from shared.evidence.store import EvidenceSetup
from tests import evidence_samples as samples
from tests.conftest import BUS_MIGRATIONS, DatabaseFactory, migrate
from tests.integration.nonconformity.conftest import NcService, start_nc_service

ATTACHED = "capaflow.nonconformity.evidence_attached.v1"
BucketFactory = Callable[[], dict[str, str]]


def _bucket_client(store: dict[str, str]) -> Any:
    return boto3.session.Session(
        aws_access_key_id=store["evidence_s3_access_key_id"],
        aws_secret_access_key=store["evidence_s3_secret_access_key"],
        region_name=store["evidence_s3_region"],
    ).client("s3", endpoint_url=store["evidence_s3_endpoint"])


def _objects(store: dict[str, str]) -> dict[str, bytes]:
    """Every object in the service's bucket: {key: bytes}."""
    client = _bucket_client(store)
    bucket = store["evidence_s3_bucket"]
    listed = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    found = {o["Key"]: client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
             for o in listed}
    client.close()
    return found


def _closed_port() -> int:
    """A port nothing listens on: the store "down" (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@asynccontextmanager
async def _service(new_sqlite_database: DatabaseFactory, api_keys: tuple[Path, dict[str, str]],
                   url: str | None = None, **overrides: Any) -> AsyncIterator[NcService]:
    bus_url = await new_sqlite_database()
    await migrate(BUS_MIGRATIONS, bus_url)
    # aclosing: a failed assertion in the test still stops the service, at once.
    async with aclosing(start_nc_service(url or await new_sqlite_database(), bus_url,
                                         *api_keys, evidence_s3_timeout=3,
                                         **overrides)) as services:
        async for service in services:
            yield service


async def _new_nc(nc: NcService) -> str:
    response = await nc.report(title="Seal leak on line 3", severity="minor")
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _upload(nc: NcService, nc_id: str, content: bytes,
                  filename: str = "report.pdf") -> Any:
    # No declared type: the bytes decide (PDF or PNG here).
    return await nc.client.post(f"/v1/nonconformities/{nc_id}/evidence",
                                files={"file": (filename, content)},
                                headers=nc.auth("engineer"))


async def test_one_object_per_file_under_its_hash_byte_for_byte(
        new_sqlite_database: DatabaseFactory, api_keys: tuple[Path, dict[str, str]],
        new_s3_bucket: BucketFactory) -> None:
    store = new_s3_bucket()
    async with _service(new_sqlite_database, api_keys, **store) as nc:
        first, second = await _new_nc(nc), await _new_nc(nc)
        # Every byte value, and more than one network read's worth.
        content = samples.pdf(bytes(range(256)) * 1024)
        sha256 = hashlib.sha256(content).hexdigest()
        answers = [await _upload(nc, first, content), await _upload(nc, first, content, "b.pdf"),
                   await _upload(nc, second, content, "c.pdf")]
        assert [a.status_code for a in answers] == [201, 201, 201]
        assert _objects(store) == {sha256: content}
        for answer in answers:
            download = await nc.client.get(answer.json()["download"],
                                           headers=nc.auth("reporter"))
            assert download.status_code == 200 and download.content == content
        async with nc.app.state.runtime.sessions() as session:
            [blob] = (await session.exec(select(EvidenceBlob))).all()
        # The database keeps the reference, not the bytes.
        assert (blob.sha256, blob.size, blob.content) == (sha256, len(content), None)


async def test_a_store_that_is_down_is_503_and_nothing_is_recorded(
        new_sqlite_database: DatabaseFactory, api_keys: tuple[Path, dict[str, str]],
        new_s3_bucket: BucketFactory) -> None:
    store = new_s3_bucket()
    async with _service(new_sqlite_database, api_keys, **store) as nc:
        nc_id = await _new_nc(nc)
        kept = await _upload(nc, nc_id, samples.pdf())
        assert kept.status_code == 201, kept.text
        # The same bucket, but the server cannot be reached.
        setup: EvidenceSetup = nc.app.state.evidence
        nc.app.state.evidence = EvidenceSetup(max_bytes=setup.max_bytes, store=S3EvidenceStore(
            endpoint=f"http://127.0.0.1:{_closed_port()}", bucket=store["evidence_s3_bucket"],
            region="us-east-1", access_key_id="x", secret_access_key="y", timeout=2))

        upload = await _upload(nc, nc_id, samples.png(), "photo.png")
        download = await nc.client.get(kept.json()["download"], headers=nc.auth("reporter"))
        for answer in (upload, download):
            assert answer.status_code == 503, answer.text
            assert answer.headers["content-type"] == "application/problem+json"
            assert answer.headers["retry-after"] == "5"
            assert "evidence store" in answer.json()["detail"]
        async with nc.app.state.runtime.sessions() as session:
            rows = (await session.exec(select(EvidenceAttachment))).all()
        assert [r.id for r in rows] == [uuid.UUID(kept.json()["id"])]
        assert len(await nc.events(nc_id, ATTACHED)) == 1


async def test_a_bucket_that_does_not_exist_is_503(
        new_sqlite_database: DatabaseFactory, api_keys: tuple[Path, dict[str, str]],
        new_s3_bucket: BucketFactory) -> None:
    store = new_s3_bucket() | {"evidence_s3_bucket": f"missing-{uuid.uuid4().hex[:12]}"}
    async with _service(new_sqlite_database, api_keys, **store) as nc:
        nc_id = await _new_nc(nc)
        answer = await _upload(nc, nc_id, samples.pdf())
        assert answer.status_code == 503, answer.text
        assert await nc.events(nc_id, ATTACHED) == []


async def test_files_kept_in_the_database_are_served_after_the_switch(
        new_sqlite_database: DatabaseFactory, api_keys: tuple[Path, dict[str, str]],
        new_s3_bucket: BucketFactory) -> None:
    url = await new_sqlite_database()
    content = samples.pdf(b"kept in the database")
    async with _service(new_sqlite_database, api_keys, url=url) as nc:
        nc_id = await _new_nc(nc)
        before = await _upload(nc, nc_id, content)
        assert before.status_code == 201, before.text
    store = new_s3_bucket()
    async with _service(new_sqlite_database, api_keys, url=url, **store) as nc:
        download = await nc.client.get(before.json()["download"], headers=nc.auth("reporter"))
        assert download.status_code == 200 and download.content == content
        # Attached again: the bytes are known, so no object is written for them.
        assert (await _upload(nc, nc_id, content, "again.pdf")).status_code == 201
        new = await _upload(nc, nc_id, samples.png(), "photo.png")
        assert new.status_code == 201, new.text
        assert list(_objects(store)) == [new.json()["sha256"]]


async def test_an_object_changed_in_the_store_is_not_served(
        new_sqlite_database: DatabaseFactory, api_keys: tuple[Path, dict[str, str]],
        new_s3_bucket: BucketFactory) -> None:
    store = new_s3_bucket()
    async with _service(new_sqlite_database, api_keys, **store) as nc:
        nc_id = await _new_nc(nc)
        reference = (await _upload(nc, nc_id, samples.pdf())).json()
        client = _bucket_client(store)
        client.put_object(Bucket=store["evidence_s3_bucket"], Key=reference["sha256"],
                          Body=samples.pdf(b"edited afterwards"))
        client.close()
        download = await nc.client.get(reference["download"], headers=nc.auth("reporter"))
        assert download.status_code == 503
        assert "does not match its SHA-256" in download.json()["detail"]


async def test_only_the_configured_endpoint_and_key_are_used(
        new_sqlite_database: DatabaseFactory, api_keys: tuple[Path, dict[str, str]],
        new_s3_bucket: BucketFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    store = new_s3_bucket()
    # Everything an AWS client would otherwise pick up points elsewhere.
    elsewhere = f"http://127.0.0.1:{_closed_port()}"
    config = tmp_path / "aws-config"
    config.write_text(f"[default]\nendpoint_url = {elsewhere}\nregion = ap-south-1\n"
                      "aws_access_key_id = wrong\naws_secret_access_key = wrong\n")
    for name, value in {"AWS_CONFIG_FILE": str(config), "AWS_SHARED_CREDENTIALS_FILE": str(config),
                        "AWS_PROFILE": "no-such-profile", "AWS_ENDPOINT_URL": elsewhere,
                        "AWS_ENDPOINT_URL_S3": elsewhere, "AWS_ACCESS_KEY_ID": "wrong",
                        "AWS_SECRET_ACCESS_KEY": "wrong", "AWS_DEFAULT_REGION": "ap-south-1",
                        "AWS_REGION": "ap-south-1"}.items():
        monkeypatch.setenv(name, value)
    async with _service(new_sqlite_database, api_keys, **store) as nc:
        nc_id = await _new_nc(nc)
        created = await _upload(nc, nc_id, samples.pdf())
        assert created.status_code == 201, created.text
        download = await nc.client.get(created.json()["download"], headers=nc.auth("reporter"))
        assert download.content == samples.pdf()
    monkeypatch.undo()
    assert list(_objects(store)) == [created.json()["sha256"]]
