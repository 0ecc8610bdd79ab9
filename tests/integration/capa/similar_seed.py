"""Past CAPAs with lessons and root causes written straight into a CAPA database (as
years of use would leave them), and the CAPA app on SQLite or PostgreSQL."""

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import insert, inspect
from sqlmodel.ext.asyncio.session import AsyncSession

from services.capa.app import create_app
from services.capa.domain import CapaStatus
from services.capa.domain.root_cause import AnalysisStatus
from services.capa.models import Capa, RootCauseAnalysis
from services.capa.models_lessons import Lesson
from services.capa.settings import CapaSettings
from shared.db import SessionFactory, transaction, utcnow
from shared.events.base import Severity
from shared.vocabulary import CauseCategory
from tests.conftest import BUS_MIGRATIONS, SERVICE_MIGRATIONS, DatabaseFactory, migrate, running
from tests.integration.capa.conftest import TEST_AUDIT_KEY, Capas

_numbers = iter(range(100, 100_000))


async def _add_capa(session: AsyncSession, capa: Capa) -> None:
    """The CAPA row with the columns the database has now: the migration test
    writes while downgraded, before later migrations added columns to ``capas``."""
    connection = await session.connection()
    present = await connection.run_sync(
        lambda sync: {column["name"] for column in inspect(sync).get_columns("capas")})
    await session.exec(insert(Capa.__table__).values({  # type: ignore[call-overload]
        column.name: getattr(capa, column.name) for column in Capa.__table__.columns
        if column.name in present}))


def _capa(title: str, status: CapaStatus) -> Capa:
    now = utcnow()
    return Capa(number=f"CAPA-2025-{next(_numbers):05d}", title=title,
                severity=Severity.major, status=status, opened_at=now - timedelta(days=90),
                due_date=date(2026, 1, 31), updated_at=now,
                closed_at=now if status is CapaStatus.closed else None)


async def seed_lesson(sessions: SessionFactory, *, title: str, problem: str, root_cause: str,
                      lesson: str, tags: tuple[str, ...] = ()) -> dict[str, Any]:
    """A closed CAPA and the lesson it published."""
    async with transaction(sessions) as session:
        capa = _capa(title, CapaStatus.closed)
        await _add_capa(session, capa)
        row = Lesson(capa_id=capa.id, capa_number=capa.number, title=title, problem=problem,
                     root_cause=root_cause, cause_category="process",
                     actions=["Update the runbook"], what_to_do_differently=lesson,
                     tags=list(tags), tag_index="|" + "|".join(tags) + "|",
                     search_text=" ".join((title, problem, root_cause, lesson)).lower(),
                     published_at=utcnow())
        session.add(row)
    return {"capa_id": str(capa.id), "number": capa.number, "lesson_id": str(row.id)}


async def seed_root_cause(sessions: SessionFactory, *, title: str, problem: str,
                          whys: list[tuple[str, str]], root_cause: str,
                          status: str = "submitted",
                          capa_status: CapaStatus = CapaStatus.action_planned
                          ) -> dict[str, Any]:
    """A CAPA with an analysis (submitted, unless ``status`` says draft) and no lesson."""
    async with transaction(sessions) as session:
        capa = _capa(title, capa_status)
        await _add_capa(session, capa)
        session.add(RootCauseAnalysis(
            capa_id=capa.id, status=AnalysisStatus(status), problem_statement=problem,
            whys=[{"why": w, "because": b} for w, b in whys], root_cause=root_cause,
            cause_category=CauseCategory.process if status == "submitted" else None,
            submissions=1 if status == "submitted" else 0, updated_by="test-engineer",
            updated_at=utcnow()))
    return {"capa_id": str(capa.id), "number": capa.number}


def sessions_of(capas: Capas) -> SessionFactory:
    sessions: SessionFactory = capas.app.state.runtime.sessions
    return sessions


@asynccontextmanager
async def capa_app(database: DatabaseFactory, sqlite: DatabaseFactory,
                   keys: tuple[Path, dict[str, str]],
                   prepare: Callable[[str], Any] | None = None) -> AsyncIterator[Capas]:
    """The CAPA app on a database from ``database`` (the bus's event log on SQLite)."""
    url, bus_url = await database(), await sqlite()
    if prepare is None:
        await migrate(SERVICE_MIGRATIONS, url)
    else:
        await prepare(url)
    await migrate(BUS_MIGRATIONS, bus_url)
    settings = CapaSettings(database_url=url, bus="sql", bus_database_url=bus_url,
                            credentials_file=str(keys[0]), relay_poll_interval=0.02,
                            log_json=False, audit_key=SecretStr(TEST_AUDIT_KEY))
    app = create_app(settings)
    async with running(app) as client:
        yield Capas(client=client, keys=keys[1], settings=settings, app=app)


def new_id() -> str:
    return str(uuid.uuid4())
