"""Cursors for keyset pagination: a cursor is the sort key of the last row of a
page, the position the next page starts after.

A cursor is written so that its pattern, published in the OpenAPI document,
describes exactly the cursors the API takes: any string matching it is a
position (keyset pagination needs no row at that position), anything else is
a 422 like every other malformed parameter. An opaque base64 blob could be
well-formed and still not decode, which no schema can say.
"""

from datetime import UTC, datetime, timedelta
from typing import Annotated
from uuid import UUID

from fastapi import Query

MAX_PAGE_SIZE = 200

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Microseconds since 1970 in at most 16 digits reach past the year 2286: every
# such number is a time the services can compare with (and a row's time fits).
TIME_CURSOR_PATTERN = r"^[0-9]{1,16}\.[0-9a-f]{32}$"
SEQUENCE_CURSOR_PATTERN = r"^[0-9]{1,18}$"

_DESCRIPTION = ("The next_cursor of the previous page, as given; leave it out for the "
                "first page.")
TimeCursor = Annotated[str | None, Query(pattern=TIME_CURSOR_PATTERN,
                                         description=_DESCRIPTION)]
SequenceCursor = Annotated[str | None, Query(pattern=SEQUENCE_CURSOR_PATTERN,
                                             description=_DESCRIPTION)]


def encode_time_cursor(moment: datetime, ident: UUID) -> str:
    """The position after a row sorted by (time, id). A time without a zone is
    UTC, as every stored CAPAflow time stamp is."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    micros = (aware - _EPOCH) // timedelta(microseconds=1)
    return f"{micros}.{ident.hex}"


def decode_time_cursor(cursor: str) -> tuple[datetime, UUID]:
    """The (time, id) of a cursor that matched TIME_CURSOR_PATTERN (the route's
    Query checked it)."""
    micros, _, ident = cursor.partition(".")
    return _EPOCH + timedelta(microseconds=int(micros)), UUID(hex=ident)


def encode_sequence_cursor(sequence: int) -> str:
    return str(sequence)


def decode_sequence_cursor(cursor: str) -> int:
    return int(cursor)
