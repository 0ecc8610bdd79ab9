"""Statements per unit of work, counted, not timed: on PostgreSQL each one is a
round trip, so these bounds keep the report and alert-intake paths from
silently falling back to a statement (or ten) per NC. Raise a bound only for
a statement the work really needs."""

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import event

from services.nonconformity.domain import EscalationPolicy
from services.nonconformity.domain.alerts import AlertmanagerPayload, observe
from services.nonconformity.schemas import IntakeResult, NonconformityCreate
from services.nonconformity.service import monitoring, reporting
from shared.db import SessionFactory, create_engine, session_factory
from tests.conftest import DatabaseFactory, migrate
from tests.integration.nonconformity.conftest import NC_MIGRATIONS, alert, alertmanager_payload

POLICY = EscalationPolicy()


@dataclass
class Counted:
    sessions: SessionFactory
    backend: str
    statements: list[str] = field(default_factory=list)

    async def count(self, work: Callable[[], Any]) -> int:
        self.statements.clear()
        await work()
        return len(self.statements)

    async def report(self, **fields: Any) -> None:
        body = {"title": "Checkout returns 500", "severity": "minor", "category": "payments",
                "affected_item": f"shop {uuid.uuid4().hex[:6]}",
                "external_ref": f"ZD-{uuid.uuid4().hex[:8]}", "tags": ["paypal"]} | fields
        await reporting.report_nonconformity(sessions=self.sessions, policy=POLICY,
                                             request=NonconformityCreate.model_validate(body),
                                             reported_by="test-reporter")

    async def alerts(self, *alerts: dict[str, Any]) -> IntakeResult:
        payload = AlertmanagerPayload.model_validate(alertmanager_payload(*alerts))
        observations = [observe(a, policy=POLICY, severity_label="severity")
                        for a in payload.alerts]
        return await monitoring.ingest_alerts(sessions=self.sessions, policy=POLICY,
                                              tool="alertmanager", observations=observations,
                                              truncated=0)


@pytest.fixture(params=["postgres", "sqlite"])
async def counted(request: pytest.FixtureRequest, new_postgres_database: DatabaseFactory,
                  new_sqlite_database: DatabaseFactory) -> AsyncIterator[Counted]:
    url = await (new_postgres_database if request.param == "postgres"
                 else new_sqlite_database)()
    await migrate(NC_MIGRATIONS, url)
    engine = create_engine(url)
    counted = Counted(session_factory(engine), request.param)

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        counted.statements.append(statement)

    await counted.report(title="Warm-up report")  # the year's counter row exists from here
    try:
        yield counted
    finally:
        await engine.dispose()


def _storm(run: str, count: int, **labels: Any) -> list[dict[str, Any]]:
    return [alert(f"{run}-{i}", service=f"checkout-{run}-{i}", **labels) for i in range(count)]


async def test_reports(counted: Counted) -> None:
    # PostgreSQL: 4 INSERTs (NC, history, tag, occurrence), the counter upsert,
    # the recurrence count, UPDATE NC (number), INSERT outbox. SQLite adds its BEGIN.
    postgres = counted.backend == "postgres"
    assert await counted.count(counted.report) <= (8 if postgres else 9)
    # Escalating adds one INSERT (history; SQLite: and a second outbox INSERT);
    # the NC's UPDATE carries the escalation.
    assert await counted.count(lambda: counted.report(severity="critical")) <= (
        9 if postgres else 11)


async def test_a_payload_of_new_alerts_costs_the_same_whatever_its_size(
        counted: Counted) -> None:
    small = await counted.count(lambda: counted.alerts(*_storm("small", 10)))
    run = uuid.uuid4().hex[:6]
    result: list[IntakeResult] = []

    async def storm() -> None:
        result.append(await counted.alerts(*_storm(run, 100)))
    hundred = await counted.count(storm)
    assert len(result[0].created) == 100
    if counted.backend == "postgres":
        # Tool lock, open NCs by fingerprint, counter upsert, grouped recurrence
        # count, then one INSERT each: NCs, history, tags, occurrences, outbox.
        assert hundred <= 9, counted.statements
        assert small == hundred
    else:
        # SQLite cannot batch INSERTs whose generated ids the ORM must read back
        # in order (history, occurrences, outbox): one each per alert.
        assert hundred <= 8 + 3 * 100
    escalating = await counted.count(lambda: counted.alerts(*_storm("crit", 100,
                                                                    severity="critical")))
    assert escalating <= (9 if counted.backend == "postgres" else 8 + 5 * 100)


async def test_repeated_refired_and_resolved_alerts_are_batched_too(counted: Counted) -> None:
    first = _storm("again", 100)
    await counted.alerts(*first)
    repeated = await counted.count(lambda: counted.alerts(*first))
    refired = [a | {"startsAt": "2026-11-25T09:00:00Z"} for a in first]
    refiring = await counted.count(lambda: counted.alerts(*refired))
    resolved = [a | {"status": "resolved", "endsAt": "2026-11-25T09:30:00Z"} for a in refired]
    resolving = await counted.count(lambda: counted.alerts(*resolved))
    # Lock, open NCs, their occurrences with these start times, then: repeats
    # one UPDATE; re-firings the grouped count, the NCs with a CAPA of these
    # problems, UPDATE NCs, INSERT occurrences, history, outbox; resolutions
    # UPDATE occurrences, NCs, INSERT history, outbox.
    assert repeated <= 4  # SQLite: its BEGIN IMMEDIATE instead of the tool lock
    if counted.backend == "postgres":
        assert refiring <= 9
        assert resolving <= 7
