"""A report's period ``[since, until)`` must run forward: one rule for every service.

A period that ends before it starts (or where it starts) holds nothing, so its
figures would be all zeros under a heading that names real dates, and a review
could be held over them. It is refused instead, with a problem type of its own:
no OpenAPI schema can compare two parameters, so clients (and the project's
fuzz test, tests/e2e/fuzz_hooks.py) tell this refusal from a malformed request
by its type. The check applies to the pair after the defaults are filled in,
so a ``since`` later than now with no ``until`` is backwards too.
"""

from datetime import datetime, timedelta

from shared.errors import Invalid

PERIOD_NOT_FORWARD = "urn:capaflow:problem:period-not-forward"


def check_forward(since: datetime, until: datetime, *, field: str = "since") -> None:
    """Invalid (422, PERIOD_NOT_FORWARD) unless ``since`` < ``until``; ``field``
    names the parameter the caller should change (as a validation error would)."""
    if since >= until:
        raise Invalid("The period must start before it ends (since before until).",
                      [(field, f"give a time before {until.isoformat()}")],
                      title="Period not forward", type_uri=PERIOD_NOT_FORWARD)


def forward_period(since: datetime | None, until: datetime | None, *, now: datetime,
                   default_length: timedelta, field: str = "since"
                   ) -> tuple[datetime, datetime]:
    """The period a report covers: ``until`` defaults to now, ``since`` to
    ``default_length`` before the end; the pair must then run forward."""
    end = until or now
    start = since or end - default_length
    check_forward(start, end, field=field)
    return start, end
