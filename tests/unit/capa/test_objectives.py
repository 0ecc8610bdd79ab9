"""Quality objectives: measuring a metric per period and the on-track rule."""

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest

from services.capa.domain import CapaStatus, EffectivenessResult
from services.capa.domain.objectives import (
    METRICS,
    Direction,
    ObjectiveRuleError,
    Period,
    TrackState,
    TrendPoint,
    check_definition,
    is_news,
    judge,
    measure,
    periods,
    progress,
    slope,
    transition,
)
from services.capa.domain.review import CapaSnapshot, Verification

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def capa(opened: datetime, *, closed: datetime | None = None, due: date | None = None,
         status: CapaStatus = CapaStatus.investigating, reopens: int = 0,
         source: str = "monitoring", cancelled: datetime | None = None) -> CapaSnapshot:
    if closed is not None:
        status = CapaStatus.closed
    if cancelled is not None:
        status = CapaStatus.cancelled
    return CapaSnapshot(status=status, opened_at=opened, closed_at=closed,
                        due_date=due or (opened + timedelta(days=60)).date(),
                        reopen_count=reopens, source=source, cause_category=None,
                        cancelled_at=cancelled)


def trend(*values: float | None) -> list[TrendPoint]:
    return [TrendPoint(NOW - timedelta(days=30 * (len(values) - i)),
                       NOW - timedelta(days=30 * (len(values) - i - 1)), v)
            for i, v in enumerate(values)]


def test_every_metric_has_a_direction_and_rates_are_bounded() -> None:
    assert METRICS["effectiveness_rate"].direction is Direction.at_least
    assert METRICS["overdue_capas"].direction is Direction.at_most
    with pytest.raises(ObjectiveRuleError, match="at most 1"):
        check_definition("reopen_rate", 5, None)
    with pytest.raises(ObjectiveRuleError, match="Unknown metric"):
        check_definition("happiness", 1, None)
    with pytest.raises(ObjectiveRuleError, match="cannot be narrowed"):
        check_definition("open_capas", 3, "audit")
    assert check_definition("capas_opened_per_week", 2, "audit").takes_source


def test_periods_are_back_to_back_and_end_now() -> None:
    spans = periods(NOW, 30, count=3)
    assert spans[-1].until == NOW and spans[0].since == NOW - timedelta(days=90)
    assert all(a.until == b.since for a, b in itertools.pairwise(spans))


def test_open_and_overdue_are_counted_at_the_period_end_not_now() -> None:
    old = capa(NOW - timedelta(days=100), due=(NOW - timedelta(days=50)).date(),
               closed=NOW - timedelta(days=10))
    cancelled = capa(NOW - timedelta(days=100), cancelled=NOW - timedelta(days=40))
    fresh = capa(NOW - timedelta(days=5))
    month_ago = Period(NOW - timedelta(days=60), NOW - timedelta(days=30))
    assert measure(METRICS["open_capas"], [old, cancelled, fresh], [], month_ago) == 1
    assert measure(METRICS["overdue_capas"], [old, cancelled, fresh], [], month_ago) == 1
    now = Period(NOW - timedelta(days=30), NOW)
    assert measure(METRICS["open_capas"], [old, cancelled, fresh], [], now) == 1
    assert measure(METRICS["overdue_capas"], [old, cancelled, fresh], [], now) == 0


def test_flow_metrics_are_the_review_figures_and_the_weekly_rate_takes_a_source() -> None:
    span = Period(NOW - timedelta(days=14), NOW)
    capas = [capa(NOW - timedelta(days=20), closed=NOW - timedelta(days=10)),
             capa(NOW - timedelta(days=7), source="audit"),
             capa(NOW - timedelta(days=3)), capa(NOW - timedelta(days=2))]
    assert measure(METRICS["median_days_to_close"], capas, [], span) == 10.0
    assert measure(METRICS["capas_opened_per_week"], capas, [], span) == 1.5
    assert measure(METRICS["capas_opened_per_week"], capas, [], span, "audit") == 0.5
    checks = [Verification(EffectivenessResult.effective, NOW - timedelta(days=1)),
              Verification(EffectivenessResult.not_effective, NOW - timedelta(days=2)),
              Verification(EffectivenessResult.effective, NOW - timedelta(days=40))]
    assert measure(METRICS["effectiveness_rate"], [], checks, span) == 0.5
    assert measure(METRICS["reopen_rate"], [], [], span) is None


def test_slope_is_per_period_and_ignores_missing_points() -> None:
    assert slope([10, None, 6]) == pytest.approx(-2)
    assert slope([None, 4]) == 0.0


@pytest.mark.parametrize(("values", "target", "deadline", "state", "met"), [
    # 1: no value in the latest period
    ((3, 2, None), 1, date(2027, 6, 1), TrackState.no_data, False),
    # 2: the target is met (at most)
    ((9, 5, 1), 2, date(2027, 6, 1), TrackState.on_track, True),
    # 3: the deadline passed without it
    ((9, 8, 7), 2, date(2026, 11, 30), TrackState.off_track, False),
    # 4: falling by 2 a period, 6 periods left: 5 - 12 < 2, on track
    ((9, 7, 5), 2, date(2027, 5, 30), TrackState.on_track, False),
    # 4: flat and missing: off track however far the deadline
    ((5, 5, 5), 2, date(2030, 1, 1), TrackState.off_track, False),
    # 4: improving, but too slowly for the deadline
    ((10, 9.5, 9), 2, date(2027, 1, 30), TrackState.off_track, False),
])
def test_the_on_track_rule(values: tuple[float | None, ...], target: float, deadline: date,
                           state: TrackState, met: bool) -> None:
    result = judge(METRICS["overdue_capas"], target, deadline, trend(*values), now=NOW,
                   period_days=30)
    assert (result.state, result.target_met) == (state, met)


def test_at_least_metrics_project_upwards() -> None:
    rising = judge(METRICS["effectiveness_rate"], 0.9, date(2027, 3, 1),
                   trend(0.5, 0.6, 0.7), now=NOW, period_days=30)
    assert rising.state is TrackState.on_track and rising.projected is not None
    assert rising.projected >= 0.9
    falling = judge(METRICS["effectiveness_rate"], 0.9, date(2027, 3, 1),
                    trend(0.8, 0.75, 0.7), now=NOW, period_days=30)
    assert falling.state is TrackState.off_track


def test_progress_measures_the_trend_from_the_data() -> None:
    capas = [capa(NOW - timedelta(days=200), due=(NOW - timedelta(days=100)).date())]
    result = progress(METRICS["overdue_capas"], 0, date(2026, 11, 1), period_days=30,
                      source=None, capas=capas, verifications=[], now=NOW)
    assert [p.value for p in result.trend] == [0, 0, 1, 1, 1, 1]  # due 100 days ago
    assert result.state is TrackState.off_track and result.current == 1


def test_transitions_are_news_going_off_and_coming_back_only() -> None:
    assert transition(None, TrackState.on_track) is TrackState.on_track
    assert not is_news(None, TrackState.on_track)
    assert is_news(None, TrackState.off_track)
    assert transition(TrackState.off_track, TrackState.off_track) is None
    assert transition(TrackState.off_track, TrackState.no_data) is None
    assert is_news(TrackState.off_track, TrackState.on_track)
