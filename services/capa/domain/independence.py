"""Whoever fixed a CAPA does not judge the fix (ISO 9001 10.2.1 d).

The check used to compare the verifier with the CAPA's owner of the moment,
as typed. Two ways round it: spell the owner differently (case, a zero-width
space) or hand ownership to someone else just before verifying. So identities
are compared canonically (``shared.identity.same_identity``), and the verifier is
compared with every person who owned the CAPA since it last entered
``implementing`` - the people responsible while the fix was carried out and
checked - read from its audit trail. We chose this over freezing the owner
while verifying: a hand-over during a long effectiveness check stays
possible, and it cannot make the previous owner a verifier.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from shared.identity import same_identity


@dataclass(frozen=True)
class TrailEntry:
    """The part of an audit entry this rule reads."""

    action: str
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None


def owners_since_implementation(trail: Iterable[TrailEntry], current_owner: str | None
                                ) -> set[str]:
    """Everyone who owned the CAPA since its last move to ``implementing``
    (the whole trail if it never got there), and the owner now."""
    entries = list(trail)
    start = 0
    for index, entry in enumerate(entries):
        if (entry.action == "status_changed" and entry.after
                and entry.after.get("status") == "implementing"):
            start = index
    owners = {current_owner} if current_owner else set()
    for entry in entries[start:]:
        for side in (entry.before, entry.after):
            if entry.action == "updated" and side and side.get("owner"):
                owners.add(str(side["owner"]))
    return owners


def fixed_it(verifier: str, owners: Iterable[str]) -> str | None:
    """The owner the verifier is (as stored), or None if he owned none of it."""
    return next((o for o in owners if same_identity(o, verifier)), None)
