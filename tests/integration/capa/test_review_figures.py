"""The CAPA service's management-review figures on SQLite and PostgreSQL: overdue
actions (count and the longest overdue), and every count equal to the ``total`` of
the list a dashboard links it to (CAPAs opened / closed in the period, open,
overdue; overdue actions)."""

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.capa.app import create_app
from services.capa.domain import CapaStatus
from services.capa.models import ActionRow, Capa
from shared.db import SessionFactory, transaction, utcnow
from shared.events.base import Severity
from shared.vocabulary import ActionKind, ActionStatus, CauseCategory
from tests.conftest import DatabaseFactory, running
from tests.integration.capa.conftest import Capas, capa_settings

DAY = timedelta(days=1)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def capas(request: pytest.FixtureRequest, new_sqlite_database: DatabaseFactory,
                new_postgres_database: DatabaseFactory,
                api_keys: tuple[Path, dict[str, str]]) -> AsyncIterator[Capas]:
    keys_path, keys = api_keys
    make = new_postgres_database if request.param == "postgres" else new_sqlite_database
    settings = await capa_settings(make, keys_path)
    app = create_app(settings)
    async with running(app) as client:
        yield Capas(client=client, keys=keys, settings=settings, app=app)


def _capa(n: int, status: CapaStatus, opened: datetime, *, closed: datetime | None = None,
          due: date, source: str = "support", category: CauseCategory | None = None) -> Capa:
    return Capa(number=f"CAPA-1998-{n:05d}", title=f"seed {n}", severity=Severity.major,
                status=status, opened_at=opened, updated_at=opened, closed_at=closed,
                due_date=due, source=source, cause_category=category)


def _action(capa: Capa, due: date, status: ActionStatus = ActionStatus.planned) -> ActionRow:
    now = utcnow()
    return ActionRow(capa_id=capa.id, kind=ActionKind.corrective, description=f"due {due}",
                     owner="test-engineer", due_date=due, status=status,
                     created_by="seed", created_at=now, updated_at=now)


async def _get(capas: Capas, path: str, **params: Any) -> dict[str, Any]:
    answer = await capas.client.get(path, params=params, headers=capas.as_("manager"))
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def _total(capas: Capas, path: str, **params: Any) -> int:
    return int((await _get(capas, path, limit=1, **params))["total"])


@pytest.mark.requirement("cfr820-100a7")
async def test_review_figures_agree_with_their_lists(capas: Capas) -> None:
    now = utcnow()
    today = now.date()
    start = datetime(2026, 2, 1, tzinfo=UTC)
    end = start + 28 * DAY
    rows = [
        _capa(1, CapaStatus.open, start, due=today - 5 * DAY),             # overdue
        _capa(2, CapaStatus.implementing, end - DAY, due=today + 5 * DAY,
              source="monitoring", category=CauseCategory.process),
        _capa(3, CapaStatus.closed, start - 10 * DAY, closed=start, due=today - 9 * DAY),
        _capa(4, CapaStatus.closed, start + DAY, closed=end, due=today,     # closed after
              category=CauseCategory.process),
        _capa(5, CapaStatus.investigating, end, due=today - DAY),           # overdue, after
        # Closed in the period once, reopened since: not "closed in the period".
        _capa(6, CapaStatus.investigating, start - 40 * DAY, closed=start + DAY,
              due=today + DAY),
    ]
    actions = [
        _action(rows[0], today - 30 * DAY),                                # longest overdue
        _action(rows[0], today - DAY, ActionStatus.in_progress),
        _action(rows[1], today - 3 * DAY, ActionStatus.done),              # finished
        _action(rows[2], today - 60 * DAY),                                # CAPA closed
        _action(rows[1], today),                                           # due today: not yet
        _action(rows[4], today - 2 * DAY),
    ]
    sessions: SessionFactory = capas.app.state.runtime.sessions
    async with transaction(sessions) as session:
        session.add_all(rows)
        await session.flush()
        session.add_all(actions)
    period = {"since": start.isoformat(), "until": end.isoformat()}

    figures = await _get(capas, "/v1/management-review", **period)
    assert figures["opened_in_period"] == 3
    assert figures["closed_in_period"] == 1
    assert figures["overdue"] == 2
    assert figures["open_total"] == 4
    overdue_actions = figures["overdue_actions"]
    assert overdue_actions["total"] == 3
    oldest = overdue_actions["oldest"]
    assert (oldest["id"], oldest["capa_number"]) == (str(actions[0].id), "CAPA-1998-00001")
    assert (oldest["due_date"], oldest["days_overdue"]) == ((today - 30 * DAY).isoformat(), 30)

    # The lists behind the figures' links hold exactly that many.
    assert await _total(capas, "/v1/capas", opened_since=period["since"],
                        opened_until=period["until"]) == figures["opened_in_period"]
    assert await _total(capas, "/v1/capas", closed_since=period["since"],
                        closed_until=period["until"]) == figures["closed_in_period"]
    assert await _total(capas, "/v1/capas", overdue="true") == figures["overdue"]
    open_states = [s.value for s in CapaStatus if s not in (CapaStatus.closed,
                                                             CapaStatus.cancelled)]
    assert await _total(capas, "/v1/capas", status=open_states) == figures["open_total"]
    # The Paretos' bars: CAPAs opened in the period per cause category and per source.
    opened = {"opened_since": period["since"], "opened_until": period["until"]}
    assert [(r["name"], r["count"]) for r in figures["root_cause_categories"]] == [
        ("process", 2)]
    for row in figures["root_cause_categories"]:
        assert await _total(capas, "/v1/capas", cause_category=row["name"],
                            **opened) == row["count"]
    assert [(r["name"], r["count"]) for r in figures["nonconformity_sources"]] == [
        ("support", 2), ("monitoring", 1)]
    for row in figures["nonconformity_sources"]:
        assert await _total(capas, "/v1/capas", source=row["name"], **opened) == row["count"]
    listed = await _get(capas, "/v1/actions", overdue="true", limit=1)
    assert listed["total"] == overdue_actions["total"]
    assert listed["items"][0]["id"] == oldest["id"]


async def test_no_overdue_action_and_closed_period_edges(capas: Capas) -> None:
    day = datetime(2026, 6, 1, tzinfo=UTC)
    sessions: SessionFactory = capas.app.state.runtime.sessions
    async with transaction(sessions) as session:
        session.add(_capa(1, CapaStatus.closed, day - DAY, closed=day, due=day.date()))
        session.add(_capa(2, CapaStatus.closed, day - DAY, closed=day + DAY, due=day.date()))
    figures = await _get(capas, "/v1/management-review", since=day.isoformat(),
                         until=(day + DAY).isoformat())
    assert figures["overdue_actions"] == {"total": 0, "oldest": None}
    # One-day period: closed at its first instant counts, at its end does not.
    assert figures["closed_in_period"] == 1
    assert await _total(capas, "/v1/capas", closed_since=day.isoformat(),
                        closed_until=(day + DAY).isoformat()) == 1
    refused = await capas.client.get("/v1/capas", params={"closed_since": "1899-12-31"},
                                     headers=capas.as_("manager"))
    assert refused.status_code == 422
