"""Time and date types for input from outside (API query parameters and bodies,
monitoring payloads): pure pydantic, so domains may use them too.

Every time stamp and date a client gives must lie in years 1900 through 9998
as written (a time's own calendar day, before conversion to UTC). Python's
datetime ends at 9999-12-31 and starts at 0001-01-01, so
``9999-12-31T23:59:59-14:00`` cannot even be converted to UTC, and the services
add and subtract days and years (review periods, recurrence windows, due
dates): the margin keeps that arithmetic inside the calendar. Outside the range
is a 422 naming the range, never an OverflowError (a 500).

The rule is on the written year, not the UTC one, because that is what the
OpenAPI document can state (YEAR_PATTERN): the schema and the server then
agree on every input, up to a zone offset at either end of the range.
"""

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, WithJsonSchema

EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(9998, 12, 31)
OUT_OF_RANGE = (f"lies outside the range this API accepts: from {EARLIEST_DAY.isoformat()} "
                f"to {LATEST_DAY.isoformat()}")
# Free text in a query: anything but NUL, which NulGuard refuses (422).
NO_NUL = r"^[^\x00]*$"
# The years 1900..9998 at the start of an ISO 8601 date or time.
YEAR_PATTERN = r"^(19[0-9]{2}|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])-"


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def iso_only(value: Any) -> Any:
    # pydantic would read "0.5", "-1" or 0 as seconds (or milliseconds) since 1970;
    # our API speaks ISO 8601 only, which always starts with a four-digit year.
    if isinstance(value, (date, datetime)):
        return value  # built in code, not parsed from a request
    if not isinstance(value, str) or not _ISO_DAY.match(value):
        raise ValueError("give an ISO 8601 date or time, e.g. 2026-12-31 or 2026-11-26T08:00:00Z")
    return value


def years_through(last: int) -> str:
    """A pattern for ISO 8601 dates and times in 1900..``last`` (1999 < last < 2100)."""
    tens, units = divmod(last - 2000, 10)
    decades = [f"20[0-{tens - 1}][0-9]"] if tens else []
    return "^(" + "|".join(["19[0-9]{2}", *decades, f"20{tens}[0-{units}]"]) + ")-"


def utc_in_range(value: datetime) -> datetime:
    """The same moment in UTC (a time without a zone is read as UTC, the zone of
    every CAPAflow time stamp); ValueError when its written day lies outside the
    range. Inside it, the conversion moves at most a day: it cannot overflow."""
    if not EARLIEST_DAY <= value.date() <= LATEST_DAY:
        raise ValueError(OUT_OF_RANGE)
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value
    return aware.astimezone(UTC)


def day_in_range(value: date) -> date:
    if not EARLIEST_DAY <= value <= LATEST_DAY:
        raise ValueError(OUT_OF_RANGE)
    return value


def json_integer(value: Any) -> Any:
    """JSON Schema's integer in a request body: 3 and 3.0 alike (pydantic then
    refuses 3.5), but never true, false or "3", which pydantic would convert."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("give a whole number")
    return value


JsonInteger = Annotated[int, BeforeValidator(json_integer)]

# A query time: ISO 8601, read as UTC without a zone, returned in UTC.
QueryTime = Annotated[datetime, BeforeValidator(iso_only), AfterValidator(utc_in_range),
                      WithJsonSchema({"type": "string", "format": "date-time",
                                      "pattern": YEAR_PATTERN})]

# In request bodies: ISO 8601 dates only (pydantic would read 0 as 1970-01-01).
IsoDate = Annotated[date, BeforeValidator(iso_only), AfterValidator(day_in_range),
                    WithJsonSchema({"type": "string", "format": "date", "pattern": YEAR_PATTERN})]
