"""Watching one CAPA or nonconformity: a person's e-mail subscription to that record.

A watch is an ordinary subscription (so it has the retries, the dead letter
and the digests of every other one) whose filter names one record, and whose
``watching`` key — ``"capa:<id>"`` or ``"nonconformity:<id>"`` — is unique
per owner: watching twice is one subscription.

What an NC watch hears: the NC's own events, and the CAPA events that name
the NC in their payload — ``capa.opened`` from it, ``capa.nonconformity_linked``,
``capa.closed`` and ``capa.cancelled`` (``nonconformity_ids``). The CAPA's
steps in between (root cause, actions, verification) carry only the CAPA's
id, and following them would need the NC→CAPA link kept here; the person
watches the CAPA for those (its page has the same button).

The address is the person's own, from their verified identity: the e-mail
claim of their sign-in token, else their subject as owner notices read it
(an address, or ``<subject>@<owner e-mail domain>``), never a form field —
so nobody can subscribe a stranger.
"""

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from uuid import UUID

from .owner_notices import owner_address
from .targets import EMAIL_TARGET

_EMAIL = re.compile(EMAIL_TARGET)


class Record(StrEnum):
    """What can be watched; the value is the event payload's id field prefix."""

    capa = "capa"
    nonconformity = "nonconformity"

    @property
    def id_field(self) -> str:
        return f"{self.value}_id"

    @property
    def noun(self) -> str:
        return "CAPA" if self is Record.capa else "nonconformity"


@dataclass(frozen=True)
class Watch:
    record: Record
    record_id: UUID

    @property
    def key(self) -> str:
        """The stored ``watching`` value, unique per owner."""
        return f"{self.record.value}:{self.record_id}"

    @classmethod
    def from_key(cls, key: str | None) -> "Watch | None":
        """The watch a stored key names; None for an ordinary subscription (or junk)."""
        if not key or ":" not in key:
            return None
        record, _, raw_id = key.partition(":")
        try:
            return cls(Record(record), UUID(raw_id))
        except ValueError:
            return None

    def filter(self) -> dict[str, Any]:
        """The subscription filter (domain.filters fields): every event of the record."""
        return {self.record.id_field: str(self.record_id)}


def watch_address(email_claim: str | None, subject: str,
                  owner_email_domain: str | None) -> str | None:
    """The address a person's watches go to, from their verified identity; None
    when their sign-in names none (an API key whose subject is no address, and
    no owner e-mail domain set)."""
    if email_claim and _EMAIL.match(email_claim.strip()):
        return email_claim.strip()
    return owner_address(subject, owner_email_domain)
