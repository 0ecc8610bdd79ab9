"""Periods that cannot run backwards and meetings recorded once held, through the
capa API on SQLite and on PostgreSQL: the review pack (JSON, CSV, PDF), the
review figures, the supplier scorecards and a review meeting's record."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from services.capa.api.deps import clock
from services.capa.app import create_app
from services.capa.domain.scar import DATE_OUTSIDE_WINDOW
from shared.periods import PERIOD_NOT_FORWARD
from tests.conftest import SERVICE_MIGRATIONS, DatabaseFactory, migrate, running
from tests.integration.capa.conftest import Capas, capa_settings

# Every capa report of a period [since, until).
PERIOD_REPORTS = ("/v1/management-review/pack", "/v1/management-review/pack.csv",
                  "/v1/management-review/pack.pdf", "/v1/management-review",
                  "/v1/reports/summary", "/v1/suppliers/scorecards")
# Late on a UTC day: a zone ahead of UTC is already on the next one.
NOW = datetime(2026, 12, 7, 23, 30, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
async def review(request: pytest.FixtureRequest, new_sqlite_database: DatabaseFactory,
                 new_postgres_database: DatabaseFactory,
                 api_keys: tuple[Path, dict[str, str]]) -> AsyncIterator[Capas]:
    keys_path, keys = api_keys
    settings = await capa_settings(new_sqlite_database, keys_path)
    if request.param == "postgres":
        url = await new_postgres_database()
        await migrate(SERVICE_MIGRATIONS, url)
        settings = settings.model_copy(update={"database_url": url})
    app = create_app(settings)
    app.dependency_overrides[clock] = lambda: NOW
    async with running(app) as client:
        yield Capas(client=client, keys=keys, settings=settings, app=app)


def _refused(answer: Any, problem_type: str, field: str) -> None:
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["type"] == problem_type, problem
    assert [e["field"] for e in problem["errors"]] == [field], problem


async def test_a_backwards_or_empty_period_is_refused_with_its_own_type(review: Capas) -> None:
    await review.open(title="Seal leak on line 3")
    for path in PERIOD_REPORTS:
        for period in ({"since": "2026-12-01T00:00:00Z", "until": "2026-11-01T00:00:00Z"},
                       {"since": "2026-11-01T00:00:00Z", "until": "2026-11-01T00:00:00Z"},
                       # The same instant written in two zones is still an empty period.
                       {"since": "2026-11-01T02:00:00+02:00", "until": "2026-11-01T00:00:00Z"},
                       # until defaults to now: a since after it is backwards too.
                       {"since": "2026-12-08T00:00:00Z"}):
            answer = await review.client.get(path, params=period, headers=review.as_("manager"))
            _refused(answer, PERIOD_NOT_FORWARD, "query.since")
        # The smallest forward period is a pack (or a report) like any other.
        tiny = await review.client.get(path, headers=review.as_("manager"), params={
            "since": "2026-11-01T00:00:00Z", "until": "2026-11-01T00:00:00.000001Z"})
        assert tiny.status_code == 200, (path, tiny.text)


@pytest.mark.parametrize("period", [
    {"since": "1900-01-01T00:00:00+14:00", "until": "9998-12-31T23:00:00-14:00"},
    {"since": "1900-01-01T00:00:00+14:00"},
    {"until": "9998-12-31T23:00:00-14:00"},
    {"until": "1900-01-01T00:00:00+14:00"},
    {"since": "9998-12-31T00:00:00+14:00", "until": "9998-12-31T23:59:59.999999-14:00"},
], ids=["whole-calendar", "since-first-day", "until-last-day", "until-first-day",
        "last-day"])
async def test_periods_at_the_calendars_edges_are_answered(review: Capas,
                                                           period: dict[str, str]) -> None:
    """Offsets at either end of the accepted years move the UTC moment past them; the
    previous period, the repeat window and the days added to an end must not overflow."""
    await review.open(title="Seal leak on line 3")
    for path in PERIOD_REPORTS:
        answer = await review.client.get(path, params=period, headers=review.as_("manager"))
        assert answer.status_code == 200, (path, answer.text)


async def test_a_meeting_is_recorded_once_held_and_cites_a_forward_period(
        review: Capas) -> None:
    manager = review.as_("manager")
    pack = (await review.client.get("/v1/management-review/pack", headers=manager)).json()
    cited = {"since": pack["period"]["since"], "until": pack["period"]["until"],
             "sha256": pack["sha256"]}
    body = {"held_on": "2026-12-07", "attendees": ["quality-manager"], "pack": cited}
    refusals = [
        # The day after tomorrow in UTC is no one's today yet.
        (body | {"held_on": "2026-12-09"}, DATE_OUTSIDE_WINDOW, "held_on"),
        (body | {"held_on": "9998-12-31"}, DATE_OUTSIDE_WINDOW, "held_on"),
        (body | {"pack": cited | {"since": cited["until"], "until": cited["since"]}},
         PERIOD_NOT_FORWARD, "pack.since"),
        (body | {"pack": cited | {"since": cited["until"]}}, PERIOD_NOT_FORWARD, "pack.since"),
    ]
    for refused, problem_type, field in refusals:
        answer = await review.client.post("/v1/management-reviews", json=refused,
                                          headers=manager)
        _refused(answer, problem_type, field)
    listed = await review.client.get("/v1/management-reviews", headers=manager)
    assert listed.json()["items"] == []
    # Tomorrow in UTC is today where the clock is ahead (up to +14:00).
    for held_on in ("2026-12-08", "2026-12-07", "1900-01-01"):
        recorded = await review.client.post("/v1/management-reviews", headers=manager,
                                            json=body | {"held_on": held_on})
        assert recorded.status_code == 201, recorded.text
        assert recorded.json()["held_on"] == held_on
