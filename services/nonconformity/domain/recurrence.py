"""When a problem recurs: what counts in the policy's window, and which earlier
NC's CAPA a recurrence joins.

Two NCs are the same problem when they share an alert fingerprint or a
recurrence key (category + affected item). The service answers both questions
for one NC with SQL (service.escalation) and for a whole alert payload in
memory, with the classes below loaded once; the rules live here, so the two
lookups cannot drift apart (tests/integration/nonconformity/
test_escalation_lookups.py runs them side by side).
"""

from bisect import insort
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from heapq import merge
from typing import Generic, TypeVar
from uuid import UUID

from .escalation import EscalationPolicy
from .nonconformity import CapaLink, ProblemRecord

R = TypeVar("R", bound=ProblemRecord)

# A recurrence may join the CAPA of an earlier NC whose CAPA is open or asked for.
WITH_CAPA = (CapaLink.open, CapaLink.requested)
# How many of the newest such NCs of a problem are looked at: enough for every
# real burst, and the lookup stays one bounded read.
CANDIDATES = 20


def window_start(policy: EscalationPolicy, now: datetime) -> datetime:
    """The oldest moment that still counts; a time exactly on it counts."""
    return now - policy.recurrence_window


def in_window(at: datetime, since: datetime) -> bool:
    return at >= since


def times_seen(*counts: int) -> int:
    """Occurrences of the fingerprint or NCs of the recurrence key in the
    window, whichever is more (0 for an NC with neither)."""
    return max((0, *counts))


def pick_capa_to_join(candidates: Sequence[R]) -> R | None:
    """Of the newest NCs of the problem with a CAPA (newest first): an open CAPA
    beats one still being opened; of those, the escalated NC, not one that
    itself waits for it."""
    for other in candidates:
        if other.capa_link == CapaLink.open and other.capa_id is not None:
            return other
    for other in candidates:
        if other.escalated_at is not None:
            return other
    return None


class WindowCounts:
    """How often each problem of an alert payload was seen in the window: the
    counts read before the payload wrote anything, plus what the payload added
    since, so each alert sees exactly what a count after its own flush would."""

    def __init__(self, since: datetime, by_fingerprint: dict[str, int],
                 by_key: dict[str, int]) -> None:
        self.since = since
        self._fingerprints = dict(by_fingerprint)
        self._keys = dict(by_key)

    def add_occurrence(self, fingerprint: str | None, started_at: datetime) -> None:
        if fingerprint and in_window(started_at, self.since):
            self._fingerprints[fingerprint] = self._fingerprints.get(fingerprint, 0) + 1

    def add_nonconformity(self, nc: ProblemRecord) -> None:
        if nc.recurrence_key and in_window(nc.created_at, self.since):
            self._keys[nc.recurrence_key] = self._keys.get(nc.recurrence_key, 0) + 1

    def seen(self, nc: ProblemRecord) -> int:
        counts = []
        if nc.fingerprint:
            counts.append(self._fingerprints.get(nc.fingerprint, 0))
        if nc.recurrence_key:
            counts.append(self._keys.get(nc.recurrence_key, 0))
        return times_seen(*counts)


def _created(nc: ProblemRecord) -> datetime:
    return nc.created_at


class RecurrencePool(Generic[R]):
    """Which earlier NC's CAPA a recurrence joins, for a whole payload: holds
    the newest NCs with a CAPA of every problem the payload touches (the
    service loads CANDIDATES + 1 per fingerprint and per recurrence key, enough
    for the newest CANDIDATES of either with the NC itself left out); the
    payload's own NCs are added as they are decided, so each alert sees what
    the alerts before it decided."""

    def __init__(self, records: Iterable[R] = ()) -> None:
        # Oldest first per fingerprint / recurrence key.
        self._by_fingerprint: dict[str, list[R]] = defaultdict(list)
        self._by_key: dict[str, list[R]] = defaultdict(list)
        self._ids: set[UUID] = set()
        for nc in records:
            self.add(nc)

    def add(self, nc: R) -> None:
        if nc.id in self._ids:
            return
        self._ids.add(nc.id)
        if nc.fingerprint:
            insort(self._by_fingerprint[nc.fingerprint], nc, key=_created)
        if nc.recurrence_key:
            insort(self._by_key[nc.recurrence_key], nc, key=_created)

    def capa_of_recurrence(self, nc: ProblemRecord) -> R | None:
        """An earlier NC of the same problem whose CAPA is open or asked for."""
        same_problem = []
        if nc.fingerprint:
            same_problem.append(reversed(self._by_fingerprint[nc.fingerprint]))
        if nc.recurrence_key:
            same_problem.append(reversed(self._by_key[nc.recurrence_key]))
        candidates: list[R] = []
        looked_at = {nc.id}
        for other in merge(*same_problem, key=_created, reverse=True):
            if other.id in looked_at:
                continue
            looked_at.add(other.id)
            if other.capa_link in WITH_CAPA:
                candidates.append(other)
                if len(candidates) == CANDIDATES:
                    break
        return pick_capa_to_join(candidates)
