"""How the review pack's CSV and PDF show a value to people.

The JSON pack keeps the machine values (``at_most``, ``implementing``, ``0.25``)
that its digest covers and that programs read; the CSV and PDF are read in the
meeting, so each value gets the label the web shows for it: the contract's
labels (shared.vocabulary_labels) for the published vocabulary, this module's
own for the review's figures. A value without a label is shown as it is
rather than dropped.
"""

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from shared import vocabulary_labels as labels

from .objectives import Direction, TrackState

# Figures of the comparison that are shares (0-1): shown as percentages.
RATE_FIGURES = frozenset({"effectiveness_rate", "reopen_rate"})
# A supplier scorecard's shares (supplier_schemas.ScorecardPublic).
RATE_FIELDS = frozenset({"repeat_rate", "on_time_closure"})
# A scorecard's supplier name when the register lacks its code (the web says the same).
NOT_REGISTERED = "not in the register"
# Moments (the JSON's ISO 8601 with microseconds), shown to the minute.
TIME_FIELDS = frozenset({"published_at", "opened_at", "as_of"})

_LABELS: dict[str, Mapping[str, str]] = {
    "metric": {
        "median_days_to_close": "Median days to close",
        "overdue_capas": "Overdue CAPAs",
        "open_capas": "Open CAPAs",
        "reopen_rate": "Repeat (reopen) rate",
        "effectiveness_rate": "Effectiveness rate",
        "capas_opened_per_week": "CAPAs opened per week",
        "supplier_response_days": "Supplier response time (median days)",
    },
    "direction": {Direction.at_most: "at most", Direction.at_least: "at least"},
    "state": {TrackState.on_track: "On track", TrackState.off_track: "Off track",
              TrackState.no_data: "No data yet"},
    "status": labels.CAPA_STATUS,
    "severity": labels.SEVERITY,
    "kind": labels.ACTION_KIND,
    "criticality": labels.SUPPLIER_CRITICALITY,
    "cause_category": labels.CAUSE,
}


def metric_words(metric: Any) -> str:
    """An objective's metric as a message names it: the short label the pack
    shows, else the metric's own (a metric added since)."""
    return _LABELS["metric"].get(metric.name) or str(metric.label)


def percent(value: Any, *, change: bool = False) -> Any:
    """A share as the dashboard shows it (``100.0 %``); a change in percentage
    points, in words: a leading "+" or "-" would make a spreadsheet read a formula."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return value
    if change:
        points = round(value * 100, 1)
        if points == 0:
            return "no change"
        return f"{abs(points):.1f} points {'up' if points > 0 else 'down'}"
    return f"{value * 100:.1f} %"


def moment(value: Any) -> Any:
    """A moment as people read it: ``2026-12-07 14:03 UTC`` (no seconds, no
    microseconds, no "T" a PDF cell would break the line at). A value that is no
    ISO time is shown as it is."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if not isinstance(value, datetime):
        return value
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return f"{aware.astimezone(UTC).isoformat(sep=' ', timespec='minutes')[:16]} UTC"


def _is_rate(item: Mapping[str, Any]) -> bool:
    return item.get("figure") in RATE_FIGURES or item.get("unit") == "ratio"


def shown(field: str, item: Mapping[str, Any]) -> Any:
    """``item[field]`` as a person reads it in the CSV or PDF."""
    value = item.get(field)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if field == "name" and value is None and "supplier_code" in item:
        return NOT_REGISTERED  # a code NCs name but the register lacks: said, not blank
    if field in ("current", "previous", "target") and _is_rate(item):
        return percent(value)
    if field == "change" and _is_rate(item):
        return percent(value, change=True)
    if field in RATE_FIELDS:
        return percent(value)
    if field in TIME_FIELDS:
        return moment(value)
    if isinstance(value, str) and field in _LABELS:
        return _LABELS[field].get(value, value)
    return value


def last_day(until: str) -> date:
    """The last day a ``[since, until)`` period covers: the day before a midnight
    end, else the end's own day (the API's default period ends "now")."""
    end = datetime.fromisoformat(until.replace("Z", "+00:00"))
    return (end - timedelta(microseconds=1)).date()


def period_text(period: Mapping[str, Any]) -> str:
    """``2026-11-01 to 2026-11-30`` (both days included), as the web page shows it."""
    return f"{str(period['since'])[:10]} to {last_day(str(period['until'])).isoformat()}"
