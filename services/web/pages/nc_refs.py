"""Nonconformities (and CAPAs) referred to by number, as people quote them, not by UUID.

A form field that asks for an NC ("Duplicate of") takes its number in any
usual spelling - ``NC-2026-00042``, ``nc-2026-42``, ``2026-42``, ``42`` - or words
of its title, and offers the open NCs as suggestions (``<datalist>``). The web
layer resolves the text to the id the nonconformity API wants, with the same
list search the inbox uses (``text`` matches the number); the API stays as it
is. A CAPA is named by its whole number (``resolve_capa``; the capa list's
``number`` filter finds it). What cannot be resolved is a form error at the
field, never a 500.

Only the whole number as shown (``NC-2026-00001``, the ``NC-`` optional) may name
any NC; a shorter spelling or words resolve among the open ones only (reported,
accepted: those the suggestions offer), so "2026-1" never lands silently on a
closed NC nobody meant.
"""

import re
import uuid
from dataclasses import dataclass
from typing import Any

from shared.vocabulary import NonconformityStatus

from ..client import ApiError, UserApi
from .choices import NC_OPEN_STATUSES, label

# NC-<year>-<sequence>, the sequence zero-padded to 5 (nonconformity domain).
WHOLE = re.compile(r"^\s*(?:nc-)?\d{4}-\d{5,9}\s*$", re.IGNORECASE)
NUMBER = re.compile(r"^\s*(?:nc[\s-]*)?(?:(\d{4})\s*-\s*)?0*(\d{1,9})\s*$", re.IGNORECASE)
MAX_TEXT = 200  # the list API's limit for ``text``
SUGGESTIONS = 50
HINT = "Give its number (NC-2026-00042, or 42) or pick one from the suggestions."


class UnknownReference(Exception):
    """The text names no single nonconformity; the message says what to do."""


@dataclass(frozen=True)
class Suggestion:
    number: str
    title: str


def canonical_number(year: str, sequence: str) -> str:
    return f"NC-{year}-{int(sequence):05d}"


async def _search(api: UserApi, text: str, limit: int = 10) -> list[dict[str, Any]]:
    try:
        page = await api.get("nonconformity", "/v1/nonconformities", text=text, limit=limit)
    except ApiError as exc:
        if exc.status in (400, 422):  # text the list refuses (a control character)
            raise UnknownReference(f"“{text[:60]}” is not a nonconformity number. "
                                   f"{HINT}") from exc
        raise
    return list(page["items"])


async def resolve_nc(api: UserApi, text: str) -> str:
    """The id of the nonconformity ``text`` names: a UUID as it is, a number in any
    usual spelling, or words that match exactly one NC."""
    text = text.strip()
    if not text:
        raise UnknownReference(f"Name the nonconformity. {HINT}")
    try:
        return str(uuid.UUID(text))
    except ValueError:
        pass
    if len(text) > MAX_TEXT:
        raise UnknownReference(f"That is too long for a number or a search. {HINT}")
    found = NUMBER.match(text)
    if found and found.group(1):
        number = canonical_number(found.group(1), found.group(2))
        hits = [nc for nc in await _search(api, number) if nc["number"] == number]
        if not hits:
            raise UnknownReference(f"There is no nonconformity {number}. {HINT}")
        if not WHOLE.match(text):
            _open_only(hits)
        return str(hits[0]["id"])
    if found:
        return await _by_sequence(api, text, int(found.group(2)))
    return await _by_words(api, text)


def _open_only(hits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The open NCs among ``hits``; when there are none, the first other one is
    refused by name (a finished NC is named only by its whole number)."""
    still_open = [nc for nc in hits if nc.get("status") in NC_OPEN_STATUSES]
    if hits and not still_open:
        nc = hits[0]
        state = label(nc.get("status"), NonconformityStatus).lower()
        raise UnknownReference(f"{nc['number']} is not open ({state}). To mean it, give "
                               f"its whole number, {nc['number']}.")
    return still_open


async def _by_sequence(api: UserApi, text: str, sequence: int) -> str:
    """A sequence without its year: unique across the years, or ask for the year."""
    tail = f"-{sequence:05d}"
    hits = _open_only([nc for nc in await _search(api, tail, limit=50)
                       if str(nc["number"]).endswith(tail)])
    if len(hits) == 1:
        return str(hits[0]["id"])
    if not hits:
        raise UnknownReference(f"There is no nonconformity numbered {text}. {HINT}")
    numbers = ", ".join(sorted(nc["number"] for nc in hits)[:5])
    raise UnknownReference(f"Several nonconformities end in {tail[1:]}: {numbers}. "
                           "Give the whole number.")


async def _by_words(api: UserApi, text: str) -> str:
    hits = _open_only(await _search(api, text, limit=20))
    if len(hits) == 1:
        return str(hits[0]["id"])
    if not hits:
        raise UnknownReference(f"No nonconformity matches “{text[:60]}”. {HINT}")
    numbers = ", ".join(f"{nc['number']} ({nc['title'][:40]})" for nc in hits[:5])
    raise UnknownReference(f"Several nonconformities match “{text[:60]}”: {numbers}. "
                           "Give the number of the one you mean.")


CAPA_NUMBER = re.compile(r"^\s*(?:capa[\s-]*)?(\d{4})\s*-\s*0*(\d{1,9})\s*$", re.IGNORECASE)
CAPA_HINT = "Give its number (CAPA-2026-00017) as shown on its page."


async def resolve_capa(api: UserApi, text: str) -> str:
    """The id of the CAPA ``text`` names: a UUID as it is, or its number with the year
    (``CAPA-2026-00017``, ``capa-2026-17``, ``2026-17``), found by the capa list's
    ``number`` filter."""
    text = text.strip()
    try:
        return str(uuid.UUID(text))
    except ValueError:
        pass
    found = CAPA_NUMBER.match(text[:MAX_TEXT])
    if not found:
        raise UnknownReference(f"“{text[:60]}” is not a CAPA number. {CAPA_HINT}")
    number = f"CAPA-{found.group(1)}-{int(found.group(2)):05d}"
    page = await api.get("capa", "/v1/capas", number=number, limit=1)
    if not page["items"]:
        raise UnknownReference(f"There is no CAPA {number}. {CAPA_HINT}")
    return str(page["items"][0]["id"])


async def open_suggestions(api: UserApi, *, exclude: str | None = None) -> list[Suggestion]:
    """The newest open NCs, for a ``<datalist>`` (an empty list if the list cannot be
    read: the field still takes a typed number)."""
    found: list[Suggestion] = []
    for status in (NonconformityStatus.reported, NonconformityStatus.accepted):
        try:
            page = await api.get("nonconformity", "/v1/nonconformities", status=status.value,
                                 limit=SUGGESTIONS)
        except ApiError:
            return found
        found += [Suggestion(nc["number"], nc["title"]) for nc in page["items"]
                  if nc["id"] != exclude]
    return found[:SUGGESTIONS]


async def number_of(api: UserApi, nc_id: str | None) -> str | None:
    """The number of a referenced NC, to show instead of its id (None: not readable)."""
    if not nc_id:
        return None
    try:
        return str((await api.get("nonconformity", f"/v1/nonconformities/{nc_id}"))["number"])
    except ApiError:
        return None
