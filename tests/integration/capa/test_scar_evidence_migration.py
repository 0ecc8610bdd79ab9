"""Migration 0011 (a SCAR's submitted evidence) on a database holding SCARs
written before it: the files attached up to a SCAR's last submission count as
submitted (engineers keep seeing them), a file attached after it and a SCAR
never answered hold none; the downgrade drops the column. SQLite and PostgreSQL."""

import asyncio
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from shared.db import UTCDateTime, create_engine
from shared.migrations import upgrade
from tests.conftest import SERVICE_MIGRATIONS, DatabaseFactory

BEFORE = "0010"
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
SCARS = sa.table("scars", *(sa.column(n) for n in (
    "number", "supplier_code", "contact_name", "contact_email", "request", "status",
    "token_digest", "submissions", "version", "sent_by")),
                 sa.column("id", sa.Uuid()), sa.column("capa_id", sa.Uuid()),
                 sa.column("due_date", sa.Date()), sa.column("link_expires_at", UTCDateTime()),
                 sa.column("responded_at", UTCDateTime()), sa.column("sent_at", UTCDateTime()),
                 sa.column("updated_at", UTCDateTime()), sa.column("response", sa.JSON()))
FILES = sa.table("evidence_attachments", *(sa.column(n) for n in (
    "record_type", "sha256", "filename", "content_type", "size", "attached_by")),
                 sa.column("id", sa.Uuid()), sa.column("record_id", sa.Uuid()),
                 sa.column("parent_id", sa.Uuid()), sa.column("attached_at", UTCDateTime()))


def _downgrade(url: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(SERVICE_MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.downgrade(config, revision)


def _scar(number: str, responded_at: datetime | None) -> dict[str, Any]:
    return {"id": uuid.uuid4(), "number": number, "capa_id": uuid.uuid4(),
            "supplier_code": "acme", "contact_name": "Jana", "contact_email": "j@a.example",
            "request": "Fix it", "due_date": date(2026, 12, 1), "status": "responded",
            "token_digest": uuid.uuid4().hex, "link_expires_at": T0 + timedelta(days=60),
            "response": {}, "submissions": 1 if responded_at else 0, "version": 1,
            "sent_by": "eng", "sent_at": T0, "updated_at": T0, "responded_at": responded_at}


def _file(scar_id: uuid.UUID, at: datetime) -> dict[str, Any]:
    return {"id": uuid.uuid4(), "record_type": "scar_response", "record_id": scar_id,
            "parent_id": scar_id, "sha256": "0" * 64, "filename": "f.pdf",
            "content_type": "application/pdf", "size": 1, "attached_by": "supplier:acme",
            "attached_at": at}


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_answered_scars_keep_their_files_visible(
        kind: str, new_sqlite_database: DatabaseFactory,
        new_postgres_database: DatabaseFactory) -> None:
    url = await (new_postgres_database if kind == "postgres" else new_sqlite_database)()
    await asyncio.to_thread(upgrade, SERVICE_MIGRATIONS, url, BEFORE)
    answered, waiting = _scar("SCAR-2026-0001", T0 + timedelta(days=2)), _scar(
        "SCAR-2026-0002", None)
    submitted = _file(answered["id"], T0 + timedelta(days=1))
    later = _file(answered["id"], T0 + timedelta(days=3))
    draft = _file(waiting["id"], T0 + timedelta(days=1))
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.begin() as connection:
            await connection.execute(sa.insert(SCARS), [answered, waiting])
            await connection.execute(sa.insert(FILES), [submitted, later, draft])
        await asyncio.to_thread(upgrade, SERVICE_MIGRATIONS, url)
        async with engine.connect() as connection:
            rows = dict((await connection.execute(sa.text(
                "SELECT number, submitted_evidence FROM scars"))).all())
        held = {n: v if isinstance(v, list) else json.loads(v)
                for n, v in rows.items()}
        assert held == {"SCAR-2026-0001": [str(submitted["id"])], "SCAR-2026-0002": []}

        await asyncio.to_thread(_downgrade, url, BEFORE)
        async with engine.connect() as connection:
            columns = await connection.run_sync(
                lambda c: {col["name"] for col in sa.inspect(c).get_columns("scars")})
        assert "submitted_evidence" not in columns and "responded_at" in columns
    finally:
        await engine.dispose()
