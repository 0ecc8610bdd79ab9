"""Quality objectives (ISO 9001 6.2): measurable targets over the CAPA figures.

An objective names one metric of a fixed allow-list, a target and a deadline.
Each metric has its direction: "at most" (fewer overdue CAPAs, fewer days to
close) or "at least" (a higher effectiveness rate), so a target cannot be set
the wrong way round.

**Progress** is measured per period of ``period_days`` ending now: the current
value is the latest period's, the trend the last ``TREND_PERIODS`` periods'
(oldest first). **The on-track rule**, in this order:

1. no value in the latest period (nothing closed, nothing verified): ``no_data``
   — neither on nor off track, and no transition;
2. the current value meets the target: ``on_track``;
3. the deadline has passed without meeting it: ``off_track``;
4. otherwise the trend is projected to the deadline: the least-squares slope
   per period over the trend's values (0 with fewer than two) times the periods
   left, added to the current value; ``on_track`` when that projection meets the
   target, else ``off_track``. A missed target that is not improving fast enough
   is off track at once, however far the deadline.
"""

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from .review import CapaSnapshot, Verification, summarize
from .scorecard import ScarFacts, median_response_days
from .workflow import TERMINAL

TREND_PERIODS = 6


class Direction(StrEnum):
    at_most = "at_most"
    at_least = "at_least"


class TrackState(StrEnum):
    on_track = "on_track"
    off_track = "off_track"
    no_data = "no_data"


@dataclass(frozen=True)
class Metric:
    name: str
    direction: Direction
    unit: str  # "days", "count", "ratio" (0-1), "per_week"
    label: str
    # A ratio's target lies in [0, 1]; others are at least 0.
    upper_bound: float | None = None
    # Only the weekly rate can be narrowed to one source of nonconformities.
    takes_source: bool = False


METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("median_days_to_close", Direction.at_most, "days",
           "Median days from opening to closing a CAPA (CAPAs closed in the period)"),
    Metric("overdue_capas", Direction.at_most, "count",
           "Open CAPAs past their due date at the end of the period"),
    Metric("open_capas", Direction.at_most, "count",
           "Open CAPAs at the end of the period"),
    Metric("reopen_rate", Direction.at_most, "ratio",
           "Repeat rate: share of CAPAs closed in the period that had to be reopened "
           "(their first corrective action did not remove the root cause)", upper_bound=1),
    Metric("effectiveness_rate", Direction.at_least, "ratio",
           "Share of effectiveness verifications in the period that found the CAPA "
           "effective", upper_bound=1),
    Metric("capas_opened_per_week", Direction.at_most, "per_week",
           "CAPAs opened per week from escalated nonconformities and risks, optionally of "
           "one source (monitoring, audit, support, ...)", takes_source=True),
    Metric("supplier_response_days", Direction.at_most, "days",
           "Supplier response time: median days from sending a SCAR to the supplier's "
           "first response (SCARs sent in the period that have one)"),
)}


class ObjectiveRuleError(ValueError):
    """A definition the metric cannot take (wrong target range, a source where none fits)."""


def check_definition(metric_name: str, target: float, source: str | None) -> Metric:
    metric = METRICS.get(metric_name)
    if metric is None:
        raise ObjectiveRuleError(f"Unknown metric {metric_name!r}; use one of "
                                 f"{', '.join(METRICS)}.")
    if target < 0 or (metric.upper_bound is not None and target > metric.upper_bound):
        upper = "" if metric.upper_bound is None else f" and at most {metric.upper_bound:g}"
        raise ObjectiveRuleError(f"A {metric.name} target must be at least 0{upper} "
                                 f"(a {metric.unit}).")
    if source is not None and not metric.takes_source:
        raise ObjectiveRuleError(f"{metric.name} cannot be narrowed to a source; only "
                                 f"{', '.join(m for m, d in METRICS.items() if d.takes_source)} "
                                 f"can.")
    return metric


@dataclass(frozen=True)
class Period:
    since: datetime
    until: datetime


@dataclass(frozen=True)
class TrendPoint:
    since: datetime
    until: datetime
    value: float | None


@dataclass(frozen=True)
class Progress:
    current: float | None
    trend: list[TrendPoint]
    state: TrackState
    target_met: bool
    # The value the trend reaches by the deadline (rule 4), when it was projected.
    projected: float | None
    reason: str


def periods(now: datetime, period_days: int, count: int = TREND_PERIODS) -> list[Period]:
    """``count`` back-to-back periods ending at ``now``, oldest first."""
    length = timedelta(days=period_days)
    return [Period(now - length * (i + 1), now - length * i) for i in reversed(range(count))]


def _open_at(capa: CapaSnapshot, moment: datetime) -> bool:
    ended = [t for t in (capa.closed_at, capa.cancelled_at) if t is not None]
    if capa.status in TERMINAL and not ended:
        return False  # terminal without a time (should not happen): never count it open
    return capa.opened_at <= moment and all(t > moment for t in ended)


def measure(metric: Metric, capas: Sequence[CapaSnapshot],
            verifications: Sequence[Verification], period: Period,
            source: str | None = None, scars: Sequence[ScarFacts] = ()) -> float | None:
    """The metric's value over one period (state counts at its end)."""
    if metric.name == "supplier_response_days":
        # The scorecards' own rule (domain.scorecard), over every supplier.
        return median_response_days(scars, period.since, period.until)
    if metric.name == "overdue_capas":
        end_day = period.until.date()
        return float(sum(1 for c in capas if _open_at(c, period.until) and c.due_date < end_day))
    if metric.name == "open_capas":
        return float(sum(1 for c in capas if _open_at(c, period.until)))
    if metric.name == "capas_opened_per_week":
        weeks = (period.until - period.since).total_seconds() / (7 * 86400)
        opened = sum(1 for c in capas if period.since <= c.opened_at < period.until
                     and (source is None or c.source == source))
        return round(opened / weeks, 2) if weeks > 0 else None
    # The flows come from the management-review computation itself, so an objective
    # and the review figures never disagree.
    figures = summarize(capas, verifications, since=period.since, until=period.until,
                        now=period.until)
    value = figures[metric.name]
    return None if value is None else float(value)


def meets(metric: Metric, value: float, target: float) -> bool:
    return value <= target if metric.direction is Direction.at_most else value >= target


def slope(values: Sequence[float | None]) -> float:
    """Least-squares change per period over the points that have a value."""
    points = [(float(i), v) for i, v in enumerate(values) if v is not None]
    if len(points) < 2:
        return 0.0
    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    return statistics.linear_regression(xs, ys).slope if len(set(xs)) > 1 else 0.0


def judge(metric: Metric, target: float, deadline: date, trend: Sequence[TrendPoint], *,
          now: datetime, period_days: int) -> Progress:
    """The on-track rule of the module doc, over an already measured trend."""
    current = trend[-1].value if trend else None
    points = list(trend)
    if current is None:
        return Progress(None, points, TrackState.no_data, False, None,
                        "No value in the latest period.")
    if meets(metric, current, target):
        return Progress(current, points, TrackState.on_track, True, None,
                        "The target is met.")
    if deadline < now.date():
        return Progress(current, points, TrackState.off_track, False, None,
                        "The deadline passed without meeting the target.")
    periods_left = (deadline - now.date()).days / period_days
    projected = round(current + slope([p.value for p in trend]) * periods_left, 4)
    if meets(metric, projected, target):
        return Progress(current, points, TrackState.on_track, False, projected,
                        "The trend reaches the target by the deadline.")
    return Progress(current, points, TrackState.off_track, False, projected,
                    "At this trend the target is not reached by the deadline.")


def progress(metric: Metric, target: float, deadline: date, *, period_days: int,
             source: str | None, capas: Sequence[CapaSnapshot],
             verifications: Sequence[Verification], now: datetime,
             scars: Sequence[ScarFacts] = ()) -> Progress:
    trend = [TrendPoint(p.since, p.until,
                        measure(metric, capas, verifications, p, source, scars))
             for p in periods(now, period_days)]
    return judge(metric, target, deadline, trend, now=now, period_days=period_days)


def transition(stored: TrackState | None, computed: TrackState) -> TrackState | None:
    """The state to record when it changed, else None. No data changes nothing."""
    if computed is TrackState.no_data or computed == stored:
        return None
    return computed


def is_news(stored: TrackState | None, recorded: TrackState) -> bool:
    """Going off track is news (also the first time an objective is judged); coming
    back on track only after being off (a new objective on track says nothing)."""
    return recorded is TrackState.off_track or stored is TrackState.off_track
