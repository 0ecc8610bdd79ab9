"""Cursor query parameters of keyset pagination (shared.pagination pages the
rows): a cursor is the sort key of the last row of a page.

A cursor is written so that its pattern, published in the OpenAPI document,
describes exactly the cursors the API takes: any string matching it is a
position (keyset pagination needs no row at that position), anything else is
a 422 like every other malformed parameter. An opaque base64 blob could be
well-formed and still not decode, which no schema can say.
"""

from typing import Annotated

from fastapi import Query

MAX_PAGE_SIZE = 200

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
