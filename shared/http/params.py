"""Time and date types for API input (query parameters and request bodies).

Every time stamp and date a client gives must lie in years 1900 through 9998
(times compared in UTC). Python's datetime ends at 9999-12-31 and starts at
0001-01-01, so ``9999-12-31T23:59:59-14:00`` cannot even be converted to UTC,
and the services add and subtract days and years (review periods, recurrence
windows, due dates): the margin keeps that arithmetic inside the calendar.
Outside the range is a 422 naming the range, never an OverflowError (a 500).
"""

from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(9998, 12, 31)
EARLIEST = datetime.combine(EARLIEST_DAY, datetime.min.time(), tzinfo=UTC)
LATEST = datetime.combine(LATEST_DAY, datetime.max.time(), tzinfo=UTC)
OUT_OF_RANGE = (f"lies outside the range this API accepts: from {EARLIEST_DAY.isoformat()} "
                f"to {LATEST_DAY.isoformat()} (UTC)")


def _iso_only(value: Any) -> Any:
    # pydantic would read "0.5" as seconds since 1970; our API speaks ISO 8601 only.
    if isinstance(value, (int, float)) or (isinstance(value, str)
                                           and value.replace(".", "", 1).isdigit()):
        raise ValueError("give an ISO 8601 date or time, e.g. 2026-12-31 or 2026-11-26T08:00:00Z")
    return value


def utc_in_range(value: datetime) -> datetime:
    """The same moment in UTC (a time without a zone is read as UTC, the zone of
    every CAPAflow time stamp); ValueError when it lies outside the range."""
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value
    try:
        moment = aware.astimezone(UTC)
    except OverflowError:
        # e.g. 0001-01-01T00:00:00+14:00 would be a time in year 0.
        raise ValueError(OUT_OF_RANGE) from None
    if not EARLIEST <= moment <= LATEST:
        raise ValueError(OUT_OF_RANGE)
    return moment


def day_in_range(value: date) -> date:
    if not EARLIEST_DAY <= value <= LATEST_DAY:
        raise ValueError(OUT_OF_RANGE)
    return value


# A query time: ISO 8601, read as UTC without a zone, returned in UTC.
QueryTime = Annotated[datetime, BeforeValidator(_iso_only), AfterValidator(utc_in_range)]

# In request bodies: ISO 8601 dates only (pydantic would read 0 as 1970-01-01).
IsoDate = Annotated[date, BeforeValidator(_iso_only), AfterValidator(day_in_range)]
