"""Query-parameter types shared by the services."""

from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator


def _iso_only(value: Any) -> Any:
    # pydantic would read "0.5" as seconds since 1970; our API speaks ISO 8601 only.
    if isinstance(value, (int, float)) or (isinstance(value, str)
                                           and value.replace(".", "", 1).isdigit()):
        raise ValueError("give an ISO 8601 date or time, e.g. 2026-12-31 or 2026-11-26T08:00:00Z")
    return value


def _utc(value: datetime) -> datetime:
    # Times without a zone are read as UTC, the zone of every CAPAflow time stamp.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


QueryTime = Annotated[datetime, BeforeValidator(_iso_only), AfterValidator(_utc)]


# In request bodies: ISO 8601 dates only (pydantic would read 0 as 1970-01-01).
IsoDate = Annotated[date, BeforeValidator(_iso_only)]
