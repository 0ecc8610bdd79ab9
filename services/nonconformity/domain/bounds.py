"""Bounds of an NC's text fields, and making foreign text storable and safe.

The API refuses longer input (422); the monitoring intake cuts it with a
visible marker instead, because a tool cannot fix its payload and refusing it
would lose the alert (and Alertmanager would resend the whole batch forever).
The column sizes are in models.py.
"""

import re
from urllib.parse import urlsplit

TITLE_CHARS = 300
DESCRIPTION_CHARS = 10_000
CATEGORY_CHARS = 100
AFFECTED_ITEM_CHARS = 200
TAG_CHARS = 100
# Longer links from monitoring are dropped, not cut (a cut link leads
# nowhere). Generous, because generator URLs carry the alert's whole query.
LINK_URL_CHARS = 8_192
TRUNCATION_MARKER = " [… truncated]"
# Unencodable in UTF-8 (lone surrogates) or in PostgreSQL text (NUL).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> str:
    """``text`` with the characters no database can store replaced by U+FFFD."""
    return _UNSTORABLE.sub("\ufffd", text)


def bounded(text: str | None, limit: int) -> str | None:
    """``text`` in at most ``limit`` characters (as the column counts them);
    a longer one is cut and ends in TRUNCATION_MARKER, so readers see it was."""
    if text is None:
        return None
    text = storable(text)
    if len(text) <= limit:
        return text
    return text[:limit - len(TRUNCATION_MARKER)].rstrip() + TRUNCATION_MARKER


def web_link(url: str | None) -> str | None:
    """``url`` if it is an absolute http(s) URL within LINK_URL_CHARS, else None:
    a ``javascript:`` or ``data:`` link from a payload must never become a link."""
    if not url or len(url) > LINK_URL_CHARS or _UNSTORABLE.search(url):
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:  # e.g. an invalid IPv6 literal
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url.strip()

