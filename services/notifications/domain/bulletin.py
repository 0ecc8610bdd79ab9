"""The monthly lessons-learned bulletin: which month, what it says, who wants it.

Quality teams circulate the month's lessons so the next team does not repeat
the error. The bulletin of a calendar month (UTC) is made from the lessons
this service received in that month, once the month is over; a month without
lessons has no bulletin. It is opt-in: a subscription receives it when its
``event_types`` name the kind ``lessons.bulletin`` or match the bulletin's type
(``capaflow.lessons.bulletin.v1``, or a pattern such as ``capaflow.lessons.*``);
a subscription to everything (no types) does not, so nobody is sent a newsletter
they did not ask for.
"""

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from .filters import EventFilter

BULLETIN_TYPE = "capaflow.lessons.bulletin.v1"
# The subscription kind as the docs and the UI name it.
BULLETIN_KIND = "lessons.bulletin"


def bulletin_month(now: datetime) -> tuple[datetime, datetime, str]:
    """The last finished calendar month before ``now``: start, end, "YYYY-MM"."""
    end = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    start = (end.replace(year=end.year - 1, month=12) if end.month == 1
             else end.replace(month=end.month - 1))
    return start, end, f"{start.year:04d}-{start.month:02d}"


def bulletin_id(month: str) -> str:
    """The event id of a month's bulletin: unique, so it is published once."""
    return f"lessons-bulletin:{month}"


def bulletin_data(lessons: Sequence[Mapping[str, Any]], *, start: datetime, end: datetime,
                  month: str) -> dict[str, Any]:
    """The bulletin's data from the lessons' event data, in publishing order."""
    items = [{key: lesson.get(key) for key in
              ("lesson_id", "capa_id", "capa_number", "title", "problem", "root_cause",
               "cause_category", "what_to_do_differently", "tags", "published_at")}
             for lesson in lessons]
    tags = sorted({str(t) for lesson in lessons for t in lesson.get("tags") or ()})
    return {"bulletin_id": bulletin_id(month), "month": month,
            "period_start": start.isoformat(), "period_end": end.isoformat(),
            "lessons": items, "tags": tags}


def wants_bulletin(wanted: EventFilter, data: Mapping[str, Any]) -> bool:
    """Opt-in: the filter names the kind ("lessons.bulletin") or types of which one
    matches the bulletin's; its other fields (tags, ...) must match too."""
    if BULLETIN_KIND in wanted.event_types:
        return wanted.matches_data(data)
    return bool(wanted.event_types) and wanted.matches(BULLETIN_TYPE, data)


_MONTH = re.compile(r"(\d{4})-(\d{2})", re.ASCII)


def month_bounds(text: str) -> tuple[datetime, datetime, str]:
    """The calendar month "YYYY-MM" (UTC) as start, end, "YYYY-MM"; ValueError for
    anything else (2026-13, 2026-1, 0000-01, 9999-12 whose end has no year)."""
    found = _MONTH.fullmatch(text)
    if not found:
        raise ValueError("Give the month as YYYY-MM, e.g. 2026-12.")
    year, month = int(found[1]), int(found[2])
    if not (1 <= month <= 12 and 1900 <= year <= 9998):
        raise ValueError("Give a month from 1900-01 to 9998-12 as YYYY-MM.")
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC) if month == 12 else start.replace(month=month + 1)
    return start, end, f"{year:04d}-{month:02d}"
