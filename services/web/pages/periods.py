"""A report period as people type it: two dates, both days included.

The APIs take ``[since, until)``; a person reads "1 to 30 November" as both days
in. This turns the form's inclusive dates into the API's bounds once (the day
after "until" is the exclusive end) and says in the form's words what is wrong
with them, so a typo, a backwards period or a date the services cannot take is
the page's own message, never a 500. Not a page module (no router).
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from shared.inputs import EARLIEST_DAY, LATEST_DAY

# The services take 1900-01-01 to 9998-12-31; the day after "until" must be one too.
FIRST_DAY, LAST_DAY = EARLIEST_DAY, LATEST_DAY - timedelta(days=1)
# The capa API's refusal of a period that does not run forward (shared.periods).
PERIOD_NOT_FORWARD = "urn:capaflow:problem:period-not-forward"
NOT_FORWARD_MESSAGE = ("The period must start on or before its last day. A start after "
                       "today needs a last day too.")


@dataclass
class Period:
    """The form's values as typed (cut to a sane length), the API's query
    parameters and the field errors."""

    since: str
    until: str
    params: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def _day(name: str, value: str, errors: dict[str, str]) -> date | None:
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        errors[name] = "Give a date as YYYY-MM-DD, e.g. 2026-01-31."
        return None
    if not FIRST_DAY <= day <= LAST_DAY:
        errors[name] = f"Give a date from {FIRST_DAY} to {LAST_DAY}."
        return None
    return day


def inclusive_period(since: str, until: str) -> Period:
    """The API's ``since``/``until`` (midnight UTC; until the day after the last
    day) from the form's inclusive dates; a bound left empty is left to the API's
    default."""
    since, until = since.strip()[:40], until.strip()[:40]
    errors: dict[str, str] = {}
    first, last = _day("since", since, errors), _day("until", until, errors)
    if first and last and first > last:
        errors["since"] = "The start must be on or before the last day."
    if errors:
        return Period(since, until, errors=errors)
    params: dict[str, str] = {}
    if first:
        params["since"] = f"{first.isoformat()}T00:00:00Z"
    if last:
        params["until"] = f"{(last + timedelta(days=1)).isoformat()}T00:00:00Z"
    return Period(since, until, params)


def last_day(until: str) -> str:
    """The last day an API period ``[since, until)`` covers: the day before a
    midnight end, else the end's own day (a default period ends now)."""
    if not until:
        return ""
    moment = datetime.fromisoformat(until.replace("Z", "+00:00"))
    return (moment - timedelta(microseconds=1)).date().isoformat()
