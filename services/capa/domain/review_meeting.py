"""What a review meeting's record must satisfy beyond its schema (ISO 9001 9.3.3).

A meeting is recorded once held, and the pack it cites covers a period that
runs forward. Both depend on something no schema states (today's date, a
comparison of two fields), so each refusal carries a problem type of its own.
"""

from datetime import date, datetime, timedelta

from shared.errors import Invalid
from shared.periods import check_forward

# The problem type of a date outside what today allows; the SCAR rules named it
# first and clients (and the fuzz test's hooks) already know it.
from .scar import DATE_OUTSIDE_WINDOW

# A meeting held today in a zone ahead of UTC (up to +14:00) is already
# tomorrow there while it is still today in UTC.
ZONE_SLACK = timedelta(days=1)


def check_meeting(*, held_on: date, pack_since: datetime, pack_until: datetime,
                  today: date) -> None:
    """Invalid (422) for a meeting not held yet or a pack of a backwards period;
    ``today`` is the UTC date of the request's clock."""
    latest = today + ZONE_SLACK
    if held_on > latest:
        raise Invalid("A review meeting is recorded once it was held.",
                      [("held_on", f"give {latest.isoformat()} or earlier")],
                      type_uri=DATE_OUTSIDE_WINDOW)
    check_forward(pack_since, pack_until, field="pack.since")
