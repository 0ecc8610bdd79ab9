"""Effectiveness on schedule and reminder windows: UTC days, the edges of each window."""

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from services.capa.domain.schedule import (
    EarlyOverride,
    check_has_come,
    check_plan_change,
    check_verification_date,
    due_soon,
    reminder_window,
    utc_day,
)
from shared.errors import Conflict, Invalid, NotPermitted

DAY = date(2026, 12, 10)


def test_the_day_is_the_utc_day_whatever_zone_the_clock_reads_in() -> None:
    # 09:00 on the 11th in Kiribati (+14:00) is still the 10th in UTC.
    assert utc_day(datetime(2026, 12, 11, 9, 0, tzinfo=timezone(timedelta(hours=14)))) == DAY
    # 20:00 on the 10th in Honolulu (-10:00) is already the 11th in UTC.
    assert utc_day(datetime(2026, 12, 10, 20, 0, tzinfo=timezone(timedelta(hours=-10)))) \
        == DAY + timedelta(days=1)
    assert utc_day(datetime(2026, 12, 10, 23, 59, 59, 999999, tzinfo=UTC)) == DAY
    with pytest.raises(ValueError, match="aware"):
        utc_day(datetime(2026, 12, 10, 12, 0))


@pytest.mark.parametrize(("due", "days", "expected"), [
    (DAY, 3, True),                          # due today
    (DAY + timedelta(days=3), 3, True),      # the window's last day
    (DAY + timedelta(days=4), 3, False),     # a day beyond it
    (DAY - timedelta(days=1), 3, False),     # overdue: the overdue notice speaks
    (DAY, 0, True),                          # a zero window: the due day only
    (DAY + timedelta(days=1), 0, False),
])
@pytest.mark.requirement("iso13485-8.5.2-timely")
def test_due_soon_window_edges(due: date, days: int, expected: bool) -> None:
    assert due_soon(due, DAY, days) is expected
    first, last = reminder_window(DAY, days)
    assert (first <= due <= last) is expected  # the query's window says the same


def test_an_effectiveness_check_comes_on_its_day() -> None:
    assert check_has_come(DAY, DAY)
    assert check_has_come(DAY - timedelta(days=30), DAY)
    assert not check_has_come(DAY + timedelta(days=1), DAY)


def _check(check_date: date, reason: str | None = None, *, manager: bool = False
           ) -> EarlyOverride | None:
    return check_verification_date(check_date=check_date, today=DAY, override_reason=reason,
                                   by="mia", is_manager=manager)


def test_on_or_after_the_check_date_a_verification_needs_no_override() -> None:
    assert _check(DAY) is None
    assert _check(DAY - timedelta(days=1)) is None


@pytest.mark.requirement("iso9001-10.2.1d", "iso13485-8.5.2f")
def test_before_the_check_date_a_verification_is_refused_with_the_date() -> None:
    with pytest.raises(Conflict) as refused:
        _check(DAY + timedelta(days=1))
    assert str(refused.value).startswith("The effectiveness check is planned for 2026-12-11;")
    assert refused.value.extensions == {"check_date": "2026-12-11", "today": "2026-12-10"}


@pytest.mark.requirement("iso13485-8.5.2f", "part11-11.10g")
def test_a_manager_may_verify_early_with_a_reason_which_is_recorded() -> None:
    early = _check(DAY + timedelta(days=20), "  Line 3 is decommissioned next week ",
                   manager=True)
    assert early == EarlyOverride(by="mia", reason="Line 3 is decommissioned next week")


def test_an_override_needs_a_manager_and_a_reason_and_a_check_not_yet_due() -> None:
    with pytest.raises(NotPermitted, match="Only a manager"):
        _check(DAY + timedelta(days=1), "urgent")
    with pytest.raises(Invalid, match="needs a reason"):
        _check(DAY + timedelta(days=1), " \t", manager=True)
    with pytest.raises(Invalid, match="nothing to override"):
        _check(DAY, "urgent", manager=True)


@pytest.mark.requirement("iso13485-8.5.2f", "part11-11.10f")
def test_the_plan_is_frozen_once_this_cycle_was_verified() -> None:
    check_plan_change(verified_this_cycle=False, number="CAPA-2026-00001")
    with pytest.raises(Conflict, match="frozen"):
        check_plan_change(verified_this_cycle=True, number="CAPA-2026-00001")
