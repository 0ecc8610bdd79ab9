"""The pure UTC ISO-week bucketing behind the NCs-per-week report."""

from datetime import date

import pytest

from services.nonconformity.domain.weekly import bucket_by_week, week_start, week_starts


def test_week_start_is_the_monday_of_the_iso_week() -> None:
    assert week_start(date(2026, 11, 16)) == date(2026, 11, 16)   # Monday
    assert week_start(date(2026, 11, 22)) == date(2026, 11, 16)   # Sunday
    assert week_start(date(2026, 11, 23)) == date(2026, 11, 23)
    # Across a year end: ISO week 1 of 2027 starts on Monday 2027-01-04.
    assert week_start(date(2027, 1, 3)) == date(2026, 12, 28)
    assert week_start(date(2027, 1, 4)) == date(2027, 1, 4)


def test_week_starts_end_with_the_week_of_the_last_day() -> None:
    assert week_starts(last_day=date(2026, 11, 26), weeks=3) == [
        date(2026, 11, 9), date(2026, 11, 16), date(2026, 11, 23)]
    assert week_starts(last_day=date(2026, 11, 23), weeks=1) == [date(2026, 11, 23)]
    with pytest.raises(ValueError):
        week_starts(last_day=date(2026, 11, 23), weeks=0)


@pytest.mark.requirement("cfr820-100a1")
def test_bucketing_sums_days_into_weeks_and_zero_fills() -> None:
    mondays = week_starts(last_day=date(2026, 11, 26), weeks=3)
    rows = [(date(2026, 11, 9), "support", 2), (date(2026, 11, 15), "support", 1),
            (date(2026, 11, 15), "monitoring", 4), (date(2026, 11, 24), "audit", 1),
            (date(2026, 11, 8), "support", 9),       # the Sunday before the window
            (date(2026, 11, 30), "support", 9)]      # the Monday after it
    assert bucket_by_week(rows, mondays) == {
        "sources": ["audit", "monitoring", "support"],
        "weeks": [
            {"week_start": "2026-11-09", "counts": {"audit": 0, "monitoring": 4, "support": 3},
             "total": 7},
            {"week_start": "2026-11-16", "counts": {"audit": 0, "monitoring": 0, "support": 0},
             "total": 0},
            {"week_start": "2026-11-23", "counts": {"audit": 1, "monitoring": 0, "support": 0},
             "total": 1},
        ]}


def test_bucketing_nothing() -> None:
    mondays = week_starts(last_day=date(2026, 11, 26), weeks=2)
    assert bucket_by_week([], mondays) == {"sources": [], "weeks": [
        {"week_start": "2026-11-16", "counts": {}, "total": 0},
        {"week_start": "2026-11-23", "counts": {}, "total": 0}]}
    assert bucket_by_week([(date(2026, 11, 24), "support", 1)], []) == {"sources": [],
                                                                         "weeks": []}
