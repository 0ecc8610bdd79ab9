"""The objective metric "supplier response time" (domain.objectives): the median
days from sending a SCAR to its first response, as the scorecards count it."""

from datetime import UTC, date, datetime, timedelta

import pytest

from services.capa.domain.objectives import (
    METRICS,
    Direction,
    ObjectiveRuleError,
    Period,
    TrackState,
    check_definition,
    measure,
    progress,
)
from services.capa.domain.review_labels import shown
from services.capa.domain.scorecard import ScarFacts
from services.capa.schemas_review import ObjectiveCreate

NOW = datetime(2026, 12, 1, tzinfo=UTC)
METRIC = METRICS["supplier_response_days"]


def scar(sent_days_ago: float, answered_after: float | None) -> ScarFacts:
    sent = NOW - timedelta(days=sent_days_ago)
    return ScarFacts(supplier_code="acme", sent_at=sent, due_date=(sent + timedelta(14)).date(),
                     first_responded_at=None if answered_after is None
                     else sent + timedelta(days=answered_after), accepted_at=None)


def test_it_is_the_median_days_to_a_first_response_of_the_periods_scars() -> None:
    span = Period(NOW - timedelta(days=30), NOW)
    scars = [scar(20, 2), scar(10, 4), scar(9, 9), scar(5, None),  # unanswered: left out
             scar(45, 1)]  # sent before the period
    assert measure(METRIC, [], [], span, scars=scars) == 4.0
    assert measure(METRIC, [], [], span, scars=[scar(5, None)]) is None
    assert measure(METRIC, [], [], span) is None


def test_fewer_days_is_better_and_it_takes_no_source() -> None:
    assert METRIC.direction is Direction.at_most and METRIC.unit == "days"
    assert check_definition("supplier_response_days", 5, None) is METRIC
    with pytest.raises(ObjectiveRuleError):
        check_definition("supplier_response_days", 5, "audit")
    assert ObjectiveCreate(title="Faster suppliers", metric="supplier_response_days",
                           target=5, deadline=date(2027, 6, 30)).metric == "supplier_response_days"
    assert shown("metric", {"metric": "supplier_response_days"}) == (
        "Supplier response time (median days)")


def test_its_progress_is_judged_like_any_other_metric() -> None:
    slow = [scar(d, 12) for d in (170, 140, 110, 80, 50, 20)]
    off = progress(METRIC, 5, date(2026, 12, 31), period_days=30, source=None, capas=[],
                   verifications=[], now=NOW, scars=slow)
    assert off.current == 12 and off.state is TrackState.off_track
    fast = progress(METRIC, 5, date(2026, 12, 31), period_days=30, source=None, capas=[],
                    verifications=[], now=NOW, scars=[scar(20, 2)])
    assert fast.current == 2 and fast.state is TrackState.on_track
