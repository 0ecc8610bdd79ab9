"""Opaque cursors for keyset pagination: a cursor encodes the sort key of the
last row of a page."""

import base64
import json
from typing import Any

from shared.http.errors import Problem

MAX_PAGE_SIZE = 200


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps(values, default=str, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise Problem(400, "The cursor is not one this API gave out; start from the first "
                      "page.", title="Invalid cursor") from exc
    if not isinstance(values, list):
        raise Problem(400, "The cursor is not one this API gave out.", title="Invalid cursor")
    return values
