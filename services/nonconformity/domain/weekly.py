"""UTC ISO-week bucketing for the "NCs per week by source" report.

Pure Python (no SQL, no FastAPI): the database groups by UTC day and source,
which both SQLite and PostgreSQL can do cheaply; weeks are folded here so the
rule "a week starts on Monday 00:00 UTC" lives in one testable place.
"""

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any


def week_start(day: date) -> date:
    """The Monday of the ISO week ``day`` falls in."""
    return day - timedelta(days=day.weekday())


def week_starts(*, last_day: date, weeks: int) -> list[date]:
    """The Mondays of ``weeks`` consecutive weeks, oldest first, ending with the
    week that contains ``last_day``."""
    if weeks < 1:
        raise ValueError("weeks must be at least 1")
    last = week_start(last_day)
    return [last - timedelta(weeks=n) for n in range(weeks - 1, -1, -1)]


def bucket_by_week(day_counts: Iterable[tuple[date, str, int]],
                   mondays: list[date]) -> dict[str, Any]:
    """Fold (UTC day, source, count) rows into the given weeks.

    Zero-filled: every week is listed, and every week names every source seen
    anywhere in the window (count 0 where it had none), so a chart can stack the
    same series in every column. Rows outside the weeks are ignored.
    """
    if not mondays:
        return {"sources": [], "weeks": []}
    first, end = mondays[0], mondays[-1] + timedelta(days=7)
    counts: dict[date, dict[str, int]] = {monday: {} for monday in mondays}
    sources: set[str] = set()
    for day, source, count in day_counts:
        if not first <= day < end or count <= 0:
            continue
        week = counts[week_start(day)]
        week[source] = week.get(source, 0) + count
        sources.add(source)
    ordered = sorted(sources)
    return {
        "sources": ordered,
        "weeks": [{"week_start": monday.isoformat(),
                   "counts": {s: counts[monday].get(s, 0) for s in ordered},
                   "total": sum(counts[monday].values())} for monday in mondays],
    }
