"""Evidence files on an NC, through the real HTTP stack, on SQLite, PostgreSQL and
the S3-compatible store:
upload, list, download byte for byte, the same file stored once, and every
refusal (size, type, empty, role, unknown NC, closed NC); the event carries the
reference, never the bytes."""

import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func
from sqlmodel import select

from services.nonconformity.models import EvidenceAttachment, EvidenceBlob, OutboxMessage
from tests import evidence_samples as samples
from tests.conftest import BUS_MIGRATIONS, DatabaseFactory, migrate
from tests.integration.nonconformity.conftest import NcService, start_nc_service

ATTACHED = "capaflow.nonconformity.evidence_attached.v1"
LIMIT = 64 * 1024


@pytest.fixture(params=["sqlite", "postgres", "s3"])
async def nc_db(request: pytest.FixtureRequest, new_sqlite_database: DatabaseFactory,
                new_postgres_database: DatabaseFactory,
                api_keys: tuple[Path, dict[str, str]]) -> AsyncIterator[NcService]:
    """The NC service with its evidence in SQLite, in PostgreSQL, or (with SQLite for
    the rows) in a bucket of the S3-compatible test store."""
    bus_url = await new_sqlite_database()
    await migrate(BUS_MIGRATIONS, bus_url)
    url = await (new_postgres_database if request.param == "postgres" else new_sqlite_database)()
    # Asked for here, not as a parameter: the database runs need no S3 store.
    store = request.getfixturevalue("new_s3_bucket")() if request.param == "s3" else {}
    async for service in start_nc_service(url, bus_url, *api_keys, evidence_max_bytes=LIMIT,
                                          **store):
        yield service


async def _new_nc(nc: NcService) -> str:
    response = await nc.report(title="Seal leak on line 3", severity="minor")
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _upload(nc: NcService, nc_id: str, content: bytes, filename: str = "report.pdf",
                  content_type: str | None = "application/pdf",
                  role: str = "engineer") -> httpx.Response:
    part: tuple[Any, ...] = ((filename, content, content_type) if content_type
                             else (filename, content))
    return await nc.client.post(f"/v1/nonconformities/{nc_id}/evidence",
                                files={"file": part}, headers=nc.auth(role))


@pytest.mark.requirement("iso9001-10.2.2", "iso13485-8.5.2-records", "cfr820-100b")
async def test_round_trip_is_byte_exact_and_listed_on_the_nc(nc_db: NcService) -> None:
    nc = nc_db
    nc_id = await _new_nc(nc)
    content = samples.pdf()
    created = await _upload(nc, nc_id, content, filename="Leak test 3.pdf")
    assert created.status_code == 201, created.text
    reference = created.json()
    assert reference["sha256"] == hashlib.sha256(content).hexdigest()
    assert reference["size"] == len(content)
    assert reference["content_type"] == "application/pdf"
    assert reference["filename"] == "Leak test 3.pdf"
    assert reference["attached_by"] == "test-engineer"
    assert created.headers["location"] == reference["download"]

    # Any person who reads the NC may download it, exactly as sent.
    download = await nc.client.get(reference["download"], headers=nc.auth("reporter"))
    assert download.status_code == 200
    assert download.content == content
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["etag"] == f'"{reference["sha256"]}"'
    assert download.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in download.headers["content-security-policy"]
    assert download.headers["content-disposition"] == (
        "attachment; filename=\"Leak test 3.pdf\"; filename*=UTF-8''Leak%20test%203.pdf")
    again = await nc.client.get(reference["download"],
                                headers=nc.auth("reporter") | {"If-None-Match":
                                                               download.headers["etag"]})
    assert again.status_code == 304 and again.content == b""

    one = (await nc.client.get(f"/v1/nonconformities/{nc_id}", headers=nc.auth("reporter")))
    assert one.json()["attachments"] == [reference]
    listed = await nc.client.get(f"/v1/nonconformities/{nc_id}/evidence",
                                 headers=nc.auth("reporter"))
    assert listed.json() == [reference]
    history = await nc.client.get(f"/v1/nonconformities/{nc_id}/history",
                                  headers=nc.auth("reporter"))
    assert history.json()[-1]["action"] == "evidence_attached"


async def test_the_event_carries_the_reference_not_the_bytes(nc_db: NcService) -> None:
    nc = nc_db
    nc_id = await _new_nc(nc)
    content = samples.png(b"\x00" * 20_000)
    reference = (await _upload(nc, nc_id, content, "photo.png", "image/png")).json()
    [event] = await nc.events(nc_id, ATTACHED)
    data = event["data"]
    assert {k: data[k] for k in ("attachment_id", "sha256", "filename", "content_type", "size",
                                 "record_type", "record_id", "download_path")} == {
        "attachment_id": reference["id"], "sha256": reference["sha256"],
        "filename": "photo.png", "content_type": "image/png", "size": len(content),
        "record_type": "nonconformity", "record_id": nc_id,
        "download_path": reference["download"]}
    async with nc.app.state.runtime.sessions() as session:
        [row] = (await session.exec(select(OutboxMessage).where(
            OutboxMessage.event_type == ATTACHED))).all()
    assert samples.MARKER not in row.value
    assert len(row.value) < 4096  # the file was 20 KB: its bytes are not in there
    assert samples.MARKER.decode() not in json.dumps(event)


@pytest.mark.requirement("iso9001-10.2.2", "iso13485-8.5.2-records", "cfr820-100b")
async def test_the_same_file_twice_is_stored_once(nc_db: NcService) -> None:
    nc = nc_db
    first_nc, second_nc = await _new_nc(nc), await _new_nc(nc)
    content = samples.docx()
    docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    answers = [await _upload(nc, first_nc, content, "8D report.docx", docx),
               await _upload(nc, first_nc, content, "8D report (copy).docx",
                             "application/octet-stream"),
               await _upload(nc, second_nc, content, "8D.docx", docx)]
    assert [a.status_code for a in answers] == [201, 201, 201]
    assert len({a.json()["id"] for a in answers}) == 3
    assert {a.json()["sha256"] for a in answers} == {hashlib.sha256(content).hexdigest()}
    # Undeclared (curl's octet-stream or nothing): the bytes decide.
    assert answers[1].json()["content_type"] == docx
    async with nc.app.state.runtime.sessions() as session:
        blobs = (await session.exec(select(func.count()).select_from(EvidenceBlob))).one()
        rows = (await session.exec(select(func.count()).select_from(EvidenceAttachment))).one()
    assert (blobs, rows) == (1, 3)
    for answer in answers:
        download = await nc.client.get(answer.json()["download"], headers=nc.auth("manager"))
        assert download.content == content


async def test_a_file_over_the_limit_is_413_and_nothing_is_stored(nc_db: NcService) -> None:
    nc = nc_db
    nc_id = await _new_nc(nc)
    at_limit = samples.pdf(b"x" * (LIMIT - len(samples.pdf())))
    assert len(at_limit) == LIMIT
    assert (await _upload(nc, nc_id, at_limit)).status_code == 201
    over = await _upload(nc, nc_id, samples.pdf(b"y" * LIMIT))
    assert over.status_code == 413, over.text
    assert over.headers["content-type"] == "application/problem+json"
    assert str(LIMIT) in over.json()["detail"]
    # Far beyond, the declared length alone is refused by the body limit.
    huge = await _upload(nc, nc_id, samples.pdf(b"z" * (LIMIT * 4)))
    assert huge.status_code == 413
    assert len(await nc.events(nc_id, ATTACHED)) == 1


async def test_a_file_streamed_without_length_is_cut_off_at_the_limit(nc_db: NcService) -> None:
    nc = nc_db
    nc_id = await _new_nc(nc)
    boundary = "evidence-boundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"big.pdf\"\r\nContent-Type: application/pdf\r\n\r\n").encode()
    sent: list[int] = []

    async def body() -> AsyncIterator[bytes]:
        yield head + samples.pdf()
        for _ in range(40):  # 40 x 8 KiB: five times the limit, if it were all read
            sent.append(1)
            yield b"p" * 8192
        yield f"\r\n--{boundary}--\r\n".encode()

    response = await nc.client.post(
        f"/v1/nonconformities/{nc_id}/evidence", content=body(),
        headers=nc.auth("engineer") | {"Content-Type":
                                       f"multipart/form-data; boundary={boundary}"})
    assert response.status_code == 413
    assert len(sent) < 40  # refused as the limit passed, not after reading it all


@pytest.mark.parametrize(("filename", "content", "declared", "reason"), [
    ("report.pdf", samples.png(), "application/pdf", "its content is image/png"),
    ("tool.exe", samples.exe(), "application/octet-stream", "application/x-msdownload"),
    ("archive.zip", samples.plain_zip(), "application/zip", "application/zip"),
    ("page.html", b"<script>alert(1)</script>", "text/html", "text/html"),
    ("notes.txt", samples.text_with_nul(), "text/plain", "UTF-8 text"),
    ("report.pdf", b"just words", "application/pdf", "its content is plain text"),
])
async def test_a_type_not_accepted_or_not_what_the_bytes_are_is_415(
        nc_db: NcService, filename: str, content: bytes, declared: str | None,
        reason: str) -> None:
    nc = nc_db
    nc_id = await _new_nc(nc)
    response = await _upload(nc, nc_id, content, filename, declared)
    assert response.status_code == 415, response.text
    problem = response.json()
    assert problem["type"] == "urn:capaflow:problem:evidence-type-refused"
    assert reason in problem["detail"]
    assert await nc.events(nc_id, ATTACHED) == []


async def test_text_and_csv_are_taken_as_utf8_text(nc_db: NcService) -> None:
    nc = nc_db
    nc_id = await _new_nc(nc)
    csv = await _upload(nc, nc_id, samples.csv(), "readings.csv", None)
    windows = await _upload(nc, nc_id, samples.csv(), "readings.csv", "application/vnd.ms-excel")
    log = await _upload(nc, nc_id, "Temperatur 80 °C\n".encode(), "line3.log", "text/plain")
    assert [r.json()["content_type"] for r in (csv, windows, log)] == [
        "text/csv", "text/csv", "text/plain"]
    download = await nc.client.get(csv.json()["download"], headers=nc.auth("reporter"))
    assert download.headers["content-type"] == "text/csv; charset=utf-8"
    assert download.content == samples.csv()


async def test_empty_missing_and_extra_parts_are_refused(nc_db: NcService) -> None:
    nc = nc_db
    nc_id = await _new_nc(nc)
    path = f"/v1/nonconformities/{nc_id}/evidence"
    empty = await _upload(nc, nc_id, b"", "empty.pdf")
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "file"
    no_file = await nc.client.post(path, data={"note": "x"}, files={"other": ("a.pdf", b"x")},
                                   headers=nc.auth("engineer"))
    assert no_file.status_code == 422
    two = await nc.client.post(path, files=[("file", ("a.pdf", samples.pdf())),
                                            ("file", ("b.pdf", samples.pdf()))],
                               headers=nc.auth("engineer"))
    assert two.status_code == 422
    as_json = await nc.client.post(path, json={"file": "x"}, headers=nc.auth("engineer"))
    assert as_json.status_code == 415
    assert await nc.events(nc_id, ATTACHED) == []


async def test_roles_unknown_ncs_and_closed_ncs(nc_db: NcService) -> None:
    nc = nc_db
    nc_id = await _new_nc(nc)
    for role in ("reporter", "verifier", "source:alertmanager"):
        assert (await _upload(nc, nc_id, samples.pdf(), role=role)).status_code == 403
    assert (await _upload(nc, nc_id, samples.pdf(), role="manager")).status_code == 201
    assert (await nc.client.post(f"/v1/nonconformities/{nc_id}/evidence",
                                 files={"file": ("a.pdf", samples.pdf())})).status_code == 401
    unknown = uuid.uuid4()
    assert (await _upload(nc, str(unknown), samples.pdf())).status_code == 404
    for path in (f"/v1/nonconformities/{unknown}/evidence",
                 f"/v1/nonconformities/{unknown}/evidence/{uuid.uuid4()}",
                 f"/v1/nonconformities/{nc_id}/evidence/{uuid.uuid4()}"):
        assert (await nc.client.get(path, headers=nc.auth("reporter"))).status_code == 404
    closed = await nc.client.post(f"/v1/nonconformities/{nc_id}/close",
                                  json={"resolution": "Seal replaced"},
                                  headers=nc.auth("engineer"))
    assert closed.status_code == 200, closed.text
    assert (await _upload(nc, nc_id, samples.pdf())).status_code == 409


@pytest.mark.parametrize(("sent", "stored"), [
    ("../../etc/passwd.pdf", "passwd.pdf"),
    ("C:\\Users\\qa\\Desktop\\audit.pdf", "audit.pdf"),
    ("invoice\u202efdp.exe.pdf", "invoicefdp.exe.pdf"),
    ("line\tone\x07\x1b[31m.pdf", "line one[31m.pdf"),
    # A raw line break ends the part's header: what is left of the name is harmless.
    ("line\r\nX-Injected: 1.pdf", "_line"),
    ("..", "evidence"),
    ("\uff0e\uff0e\uff0fsecret.pdf", "secret.pdf"),
    ("rapport d\u2019essai \u2013 été.pdf", "rapport d\u2019essai \u2013 été.pdf"),
    ("a" * 300 + ".pdf", "a" * 251 + ".pdf"),
])
async def test_hostile_file_names_are_stored_clean(nc_db: NcService, sent: str,
                                                   stored: str) -> None:
    nc = nc_db
    nc_id = await _new_nc(nc)
    boundary = "b0undary"
    # Raw, so the name reaches the server exactly as a hostile client writes it.
    quoted = sent.replace("\\", "\\\\").replace('"', '\\"')
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"{quoted}\"\r\nContent-Type: application/pdf\r\n\r\n").encode()
    body += samples.pdf() + f"\r\n--{boundary}--\r\n".encode()
    created = await nc.client.post(
        f"/v1/nonconformities/{nc_id}/evidence", content=body,
        headers=nc.auth("engineer") | {"Content-Type":
                                       f"multipart/form-data; boundary={boundary}"})
    assert created.status_code == 201, created.text
    assert created.json()["filename"] == stored
    download = await nc.client.get(created.json()["download"], headers=nc.auth("reporter"))
    disposition = download.headers["content-disposition"]
    assert disposition.isascii() and "\r" not in disposition and "\n" not in disposition
    assert disposition.startswith("attachment; filename=\"")
