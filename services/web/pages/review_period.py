"""The management review's period, the period before it, and how a figure changed.

A period is whole UTC days ``[since, until)``. People give it as dates with an
inclusive end ("to 31 December" includes that day), so ``until`` is the day after
the last one. The previous period has the same number of days and ends where this
one starts; it is compared by asking the same APIs for it, so both columns are
computed by one rule.

Pure: no HTTP, no templates (tests/unit/web/test_review_period.py).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from shared.inputs import EARLIEST_DAY, LATEST_DAY

DEFAULT_DAYS = 365
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Period:
    since: date
    until: date  # exclusive

    @property
    def last_day(self) -> date:
        return self.until - DAY

    @property
    def days(self) -> int:
        return (self.until - self.since).days

    def previous(self) -> "Period | None":
        """The same number of days immediately before; none when it would start before
        the first day the services accept (there is nothing to compare with)."""
        if self.since - EARLIEST_DAY < self.until - self.since:
            return None
        return Period(self.since - (self.until - self.since), self.since)

    def api(self) -> dict[str, str]:
        """The services' ``since`` / ``until`` (UTC midnights, end exclusive)."""
        return {"since": self.since.isoformat(), "until": self.until.isoformat()}

    def label(self) -> str:
        first, last = self.since, self.last_day
        if first == last:
            return f"{first:%d %b %Y}"
        return f"{first:%d %b %Y} to {last:%d %b %Y}"


def day_filter(value: str | None) -> str | None:
    """A list's YYYY-MM-DD filter the services accept, else none (dropped like any
    stale filter value). The last accepted day leaves room for the day after it."""
    try:
        day = date.fromisoformat((value or "").strip()[:10])
    except ValueError:
        return None
    return day.isoformat() if EARLIEST_DAY <= day < LATEST_DAY else None


def day_after(value: str) -> str:
    """The exclusive end the APIs take for an inclusive last day."""
    return (date.fromisoformat(value) + DAY).isoformat()


def board_periods(q: Mapping[str, str]) -> dict[str, str | None]:
    """Opened / closed from and to (whole UTC days, the end inclusive), as the
    management review's links give them; an unreadable day is dropped."""
    return {name: day_filter(q.get(name))
            for name in ("opened_from", "opened_to", "closed_from", "closed_to")}


def period_params(periods: dict[str, str | None]) -> dict[str, str]:
    """The CAPA list's ``opened_since`` … ``closed_until`` ([since, until))."""
    params = {}
    for start, end in (("opened_from", "opened_to"), ("closed_from", "closed_to")):
        event = start.removesuffix("_from")
        if first := periods[start]:
            params[f"{event}_since"] = first
        if last := periods[end]:
            params[f"{event}_until"] = day_after(last)
    return params


def read_period(since: str, until: str, *, today: date) -> tuple[Period, dict[str, str]]:
    """The period the form asks for, and the field errors; with errors, the default
    period (the 365 days up to and including today, UTC)."""
    errors: dict[str, str] = {}
    days: dict[str, date] = {}
    for name, value in (("since", since), ("until", until)):
        if not value:
            continue
        try:
            day = date.fromisoformat(value)
        except ValueError:
            errors[name] = "Give a date as YYYY-MM-DD, e.g. 2026-01-31."
            continue
        if not EARLIEST_DAY <= day <= LATEST_DAY - DAY:
            errors[name] = (f"Give a date from {EARLIEST_DAY.isoformat()} to "
                            f"{(LATEST_DAY - DAY).isoformat()}.")
            continue
        days[name] = day
    end = days["until"] + DAY if "until" in days else today + DAY
    start = days.get("since", max(EARLIEST_DAY, end - DEFAULT_DAYS * DAY))
    if not errors and start >= end:
        errors["since"] = "The start must be on or before the end."
    if errors:
        end = today + DAY
        return Period(end - DEFAULT_DAYS * DAY, end), errors
    return Period(start, end), errors


Direction = Literal["up", "down", "same"]
ARROWS: dict[Direction, str] = {"up": "↑", "down": "↓", "same": "="}


@dataclass(frozen=True)
class Change:
    """How a figure moved from the previous period: an arrow for the eye and the same
    in words for a screen reader (never a colour alone)."""

    direction: Direction
    amount: str  # "2", "5.0 points", "3.5 days"
    words: str   # "up 2 from 3"

    @property
    def arrow(self) -> str:
        return ARROWS[self.direction]


Kind = Literal["count", "rate", "days"]


def show(value: float | None, kind: Kind) -> str:
    if value is None:
        return "\u2013"  # an en dash: no value
    if kind == "rate":
        return f"{value * 100:.1f} %"
    if kind == "days":
        return f"{value:.1f}"
    return str(int(value))


def change(now: float | None, before: float | None, kind: Kind = "count") -> Change | None:
    """None when either side has no value (a rate of no checks, no previous period)."""
    if now is None or before is None:
        return None
    diff = now - before
    if kind == "rate":
        amount = f"{abs(diff) * 100:.1f} points"
    elif kind == "days":
        amount = f"{abs(diff):.1f} days"
    else:
        amount = str(abs(int(diff)))
    if abs(diff) < 1e-9:
        return Change("same", "", f"no change from {show(before, kind)}")
    direction: Direction = "up" if diff > 0 else "down"
    return Change(direction, amount, f"{direction} {amount} from {show(before, kind)}")
