"""A cursor's published pattern describes exactly the cursors the API takes:
what the API gives out matches it, and everything matching it decodes."""

import re
from datetime import UTC, datetime
from uuid import UUID, uuid4

from shared.http.pagination import SEQUENCE_CURSOR_PATTERN, TIME_CURSOR_PATTERN
from shared.pagination import (
    decode_sequence_cursor,
    decode_time_cursor,
    encode_sequence_cursor,
    encode_time_cursor,
)


def test_a_time_cursor_round_trips_to_the_microsecond_and_matches_its_pattern() -> None:
    ident = uuid4()
    moment = datetime(2026, 11, 26, 8, 0, 0, 123456, tzinfo=UTC)
    cursor = encode_time_cursor(moment, ident)
    assert re.fullmatch(TIME_CURSOR_PATTERN, cursor)
    assert decode_time_cursor(cursor) == (moment, ident)


def test_a_stored_time_without_a_zone_is_read_as_utc() -> None:
    ident = uuid4()
    naive = datetime(2026, 1, 2, 3, 4, 5)
    assert decode_time_cursor(encode_time_cursor(naive, ident)) == (
        naive.replace(tzinfo=UTC), ident)


def test_every_string_matching_the_pattern_is_a_position() -> None:
    # The largest 16-digit value is a time the services can still compare with.
    moment, ident = decode_time_cursor("9" * 16 + "." + "f" * 32)
    assert moment.year == 2286 and ident == UUID("f" * 32)
    assert decode_time_cursor("0." + "0" * 32)[0] == datetime(1970, 1, 1, tzinfo=UTC)
    assert decode_sequence_cursor(encode_sequence_cursor(42)) == 42
    assert re.fullmatch(SEQUENCE_CURSOR_PATTERN, "9" * 18)
