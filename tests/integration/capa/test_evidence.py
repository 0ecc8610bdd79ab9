"""Evidence files on a CAPA's actions and effectiveness verifications, on SQLite,
PostgreSQL and the S3-compatible store: round trip, stored once, listed on the
records, in the audit trail (whose chain still verifies), refusals, and an event
without the bytes."""

import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func
from sqlmodel import col, select

from services.capa.app import create_app
from services.capa.models import EvidenceBlob, OutboxMessage
from services.capa.settings import CapaSettings
from tests import evidence_samples as samples
from tests.conftest import BUS_MIGRATIONS, SERVICE_MIGRATIONS, DatabaseFactory, migrate, running
from tests.integration.capa.conftest import TEST_AUDIT_KEY, Capas

ATTACHED = "capaflow.capa.evidence_attached.v1"
LIMIT = 32 * 1024


@pytest.fixture(params=["sqlite", "postgres", "s3"])
async def capas_db(request: pytest.FixtureRequest, new_sqlite_database: DatabaseFactory,
                   new_postgres_database: DatabaseFactory,
                   api_keys: tuple[Path, dict[str, str]]) -> AsyncIterator[Capas]:
    """The CAPA service with its evidence in SQLite, in PostgreSQL, or (with SQLite for
    the rows) in a bucket of the S3-compatible test store."""
    keys_path, keys = api_keys
    url = await (new_postgres_database if request.param == "postgres" else new_sqlite_database)()
    # Asked for here, not as a parameter: the database runs need no S3 store.
    store = request.getfixturevalue("new_s3_bucket")() if request.param == "s3" else {}
    bus_url = await new_sqlite_database()
    await migrate(SERVICE_MIGRATIONS, url)
    await migrate(BUS_MIGRATIONS, bus_url)
    settings = CapaSettings(database_url=url, bus="sql", bus_database_url=bus_url,
                            credentials_file=str(keys_path), relay_poll_interval=0.02,
                            log_json=False, audit_key=TEST_AUDIT_KEY,
                            evidence_max_bytes=LIMIT, **store)
    app = create_app(settings)
    async with running(app) as client:
        yield Capas(client=client, keys=keys, settings=settings, app=app)


async def _upload(capas: Capas, path: str, content: bytes, filename: str = "evidence.pdf",
                  content_type: str = "application/pdf",
                  role: str = "engineer") -> httpx.Response:
    return await capas.client.post(path, files={"file": (filename, content, content_type)},
                                   headers=capas.as_(role))


async def _attached_events(capas: Capas) -> list[dict[str, Any]]:
    async with capas.app.state.runtime.sessions() as session:
        rows = (await session.exec(select(OutboxMessage).where(
            col(OutboxMessage.event_type) == ATTACHED).order_by(col(OutboxMessage.id)))).all()
    assert all(samples.MARKER not in row.value for row in rows)
    return [json.loads(row.value) for row in rows]


@pytest.mark.requirement("iso9001-10.2.2", "iso13485-8.5.2-records", "cfr820-100b")
async def test_action_and_verification_evidence_round_trip(capas_db: Capas) -> None:
    capas = capas_db
    capa = await capas.open()
    await capas.to_verifying(capa["id"])
    [action] = (await capas.client.get(f"/v1/capas/{capa['id']}/actions",
                                       headers=capas.as_("reporter"))).json()
    base = f"/v1/capas/{capa['id']}"
    spec = samples.pdf()
    on_action = await _upload(capas, f"{base}/actions/{action['id']}/evidence", spec,
                              "ECO-12 gasket spec rev C.pdf")
    assert on_action.status_code == 201, on_action.text
    verified = await capas.verify(capa["id"])
    assert verified.status_code == 201, verified.text
    verification = verified.json()
    photo = samples.jpeg()
    on_check = await _upload(capas, f"{base}/effectiveness-verifications/"
                             f"{verification['id']}/evidence", photo, "line3.jpg",
                             "image/jpeg", role="verifier")
    assert on_check.status_code == 201, on_check.text

    for answer, content in ((on_action, spec), (on_check, photo)):
        reference = answer.json()
        assert reference["sha256"] == hashlib.sha256(content).hexdigest()
        download = await capas.client.get(reference["download"], headers=capas.as_("reporter"))
        assert download.status_code == 200 and download.content == content
        assert download.headers["etag"] == f'"{reference["sha256"]}"'
        assert download.headers["content-type"] == reference["content_type"]
        assert download.headers["content-disposition"].startswith("attachment;")

    # Listed on the records and on the CAPA.
    actions = (await capas.client.get(f"{base}/actions", headers=capas.as_("reporter"))).json()
    assert actions[0]["attachments"] == [on_action.json()]
    one = (await capas.client.get(f"{base}/actions/{action['id']}",
                                  headers=capas.as_("reporter"))).json()
    assert one["attachments"] == [on_action.json()]
    checks = (await capas.client.get(f"{base}/effectiveness-verifications",
                                     headers=capas.as_("reporter"))).json()
    assert checks[0]["attachments"] == [on_check.json()]
    every = (await capas.client.get(f"{base}/evidence", headers=capas.as_("reporter"))).json()
    assert every == [on_action.json(), on_check.json()]

    # In the audit trail (references only), and the keyed chain still verifies.
    trail = (await capas.client.get(f"{base}/audit-trail", headers=capas.as_("reporter"))).json()
    attached = [e for e in trail["items"] if e["action"] == "evidence_attached"]
    assert [(e["after"]["record_type"], e["after"]["sha256"], e["actor"]) for e in attached] == [
        ("action", on_action.json()["sha256"], "test-engineer"),
        ("effectiveness_verification", on_check.json()["sha256"], "test-verifier")]
    check = await capas.client.get(f"{base}/audit-trail/verify", headers=capas.as_("manager"))
    assert check.json()["valid"] is True

    events = await _attached_events(capas)
    assert [(e["data"]["record_type"], e["data"]["record_id"], e["data"]["download_path"],
             e["subject"]) for e in events] == [
        ("action", action["id"], on_action.json()["download"], capa["id"]),
        ("effectiveness_verification", verification["id"], on_check.json()["download"],
         capa["id"])]


async def test_same_file_on_two_actions_is_stored_once(capas_db: Capas) -> None:
    capas = capas_db
    capa = await capas.open()
    first = await capas.add_action(capa["id"])
    second = await capas.add_action(capa["id"], kind="preventive")
    content = samples.png()
    for action in (first, second):
        answer = await _upload(capas, f"/v1/capas/{capa['id']}/actions/{action['id']}/evidence",
                               content, "torque.png", "image/png")
        assert answer.status_code == 201, answer.text
    async with capas.app.state.runtime.sessions() as session:
        blobs = (await session.exec(select(func.count()).select_from(EvidenceBlob))).one()
    assert blobs == 1
    assert len(await _attached_events(capas)) == 2


async def test_refusals(capas_db: Capas) -> None:
    capas = capas_db
    capa = await capas.open()
    action = await capas.add_action(capa["id"])
    path = f"/v1/capas/{capa['id']}/actions/{action['id']}/evidence"
    too_big = await _upload(capas, path, samples.pdf(b"x" * LIMIT))
    assert too_big.status_code == 413
    wrong = await _upload(capas, path, samples.gif(), "chart.pdf", "application/pdf")
    assert wrong.status_code == 415 and "image/gif" in wrong.json()["detail"]
    assert (await _upload(capas, path, b"", "empty.pdf")).status_code == 422
    # Actions are the engineers' and managers'; verifications the verifiers' and managers'.
    for role in ("reporter", "verifier"):
        assert (await _upload(capas, path, samples.pdf(), role=role)).status_code == 403
    unknown = uuid.uuid4()
    for missing in (f"/v1/capas/{unknown}/actions/{action['id']}/evidence",
                    f"/v1/capas/{capa['id']}/actions/{unknown}/evidence",
                    f"/v1/capas/{capa['id']}/effectiveness-verifications/{action['id']}"
                    "/evidence"):
        answer = await _upload(capas, missing, samples.pdf(), role="manager")
        assert answer.status_code == 404, (missing, answer.text)
        listed = await capas.client.get(missing, headers=capas.as_("reporter"))
        assert listed.status_code == 404, missing
    assert (await capas.client.get(f"{path}/{unknown}",
                                   headers=capas.as_("reporter"))).status_code == 404
    verification_path = f"/v1/capas/{capa['id']}/effectiveness-verifications/{unknown}/evidence"
    assert (await _upload(capas, verification_path, samples.pdf(),
                          role="engineer")).status_code == 403
    cancelled = await capas.move(capa["id"], "cancelled", role="manager",
                                 reason="Raised in error")
    assert cancelled.status_code == 200, cancelled.text
    assert (await _upload(capas, path, samples.pdf())).status_code == 409
    assert await _attached_events(capas) == []
