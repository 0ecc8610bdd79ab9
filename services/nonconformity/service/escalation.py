"""Applies the escalation policy to NCs inside the caller's transaction.

The verdict needs how often the problem was seen in the policy's window
(:func:`occurrences_in_window` for one NC, :class:`WindowCounts` for a whole
alert payload) and, for a recurrence, which earlier NC's CAPA it may join
(:func:`evaluate`); :func:`record_verdict` then writes what was decided.
"""

from bisect import insort
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from heapq import merge
from typing import Any
from uuid import UUID

from sqlalchemy import Select, func, literal, or_, union_all
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.events.envelope import Causation
from shared.events.nonconformity import NonconformityEscalated, NonconformityRecurred

from .domain import (
    CapaLink,
    EscalationDecision,
    EscalationPolicy,
    FindingType,
    decide_escalation,
)
from .models import Nonconformity, Occurrence
from .records import add_history, emit

_CHUNK = 500  # keys per grouped count, well under every driver's bind-parameter limit


async def occurrences_in_window(session: AsyncSession, nc: Nonconformity, *,
                                policy: EscalationPolicy, now: datetime) -> int:
    """Occurrences of this NC's fingerprint, or NCs of its recurrence key, in the
    window, whichever is more; both counts travel in one statement."""
    since = now - policy.recurrence_window
    counts = []
    if nc.fingerprint:
        counts.append(select(func.count()).select_from(Occurrence).where(
            Occurrence.fingerprint == nc.fingerprint,
            col(Occurrence.started_at) >= since).scalar_subquery())
    if nc.recurrence_key:
        counts.append(select(func.count()).select_from(Nonconformity).where(
            Nonconformity.recurrence_key == nc.recurrence_key,
            col(Nonconformity.created_at) >= since).scalar_subquery())
    if not counts:
        return 0
    # sqlmodel hands back a bare value for one column, a row for two.
    found = (await session.exec(select(*counts))).one()  # type: ignore[call-overload]
    return max(0, *found) if len(counts) > 1 else int(found)


class WindowCounts:
    """The same counts for a whole payload, from one grouped query made before
    the payload wrote anything, plus what the payload added since: each alert
    sees exactly what a count after its own flush would have seen."""

    def __init__(self, since: datetime, by_fingerprint: dict[str, int],
                 by_key: dict[str, int]) -> None:
        self.since = since
        self._fingerprints = by_fingerprint
        self._keys = by_key

    @classmethod
    async def load(cls, session: AsyncSession, *, since: datetime,
                   fingerprints: Iterable[str | None],
                   keys: Iterable[str | None]) -> "WindowCounts":
        by_fingerprint: dict[str, int] = {}
        by_key: dict[str, int] = {}
        fps = sorted({f for f in fingerprints if f})
        rks = sorted({k for k in keys if k})
        for start in range(0, max(len(fps), len(rks)), _CHUNK):
            fp_chunk, key_chunk = fps[start:start + _CHUNK], rks[start:start + _CHUNK]
            parts = []
            if fp_chunk:
                parts.append(select(literal("f"), col(Occurrence.fingerprint), func.count())
                             .where(col(Occurrence.fingerprint).in_(fp_chunk),
                                    col(Occurrence.started_at) >= since)
                             .group_by(col(Occurrence.fingerprint)))
            if key_chunk:
                parts.append(select(literal("k"), col(Nonconformity.recurrence_key), func.count())
                             .where(col(Nonconformity.recurrence_key).in_(key_chunk),
                                    col(Nonconformity.created_at) >= since)
                             .group_by(col(Nonconformity.recurrence_key)))
            statement: Any = union_all(*parts) if len(parts) > 1 else parts[0]
            for kind, value, count in (await session.exec(statement)).all():
                (by_fingerprint if kind == "f" else by_key)[value] = count
        return cls(since, by_fingerprint, by_key)

    def add_occurrence(self, fingerprint: str | None, started_at: datetime) -> None:
        if fingerprint and started_at >= self.since:
            self._fingerprints[fingerprint] = self._fingerprints.get(fingerprint, 0) + 1

    def add_nonconformity(self, nc: Nonconformity) -> None:
        if nc.recurrence_key and nc.created_at >= self.since:
            self._keys[nc.recurrence_key] = self._keys.get(nc.recurrence_key, 0) + 1

    def seen(self, nc: Nonconformity) -> int:
        counts = [0]
        if nc.fingerprint:
            counts.append(self._fingerprints.get(nc.fingerprint, 0))
        if nc.recurrence_key:
            counts.append(self._keys.get(nc.recurrence_key, 0))
        return max(counts)


_CANDIDATES = 20  # the newest NCs of a problem capa_of_recurrence considers


async def capa_of_recurrence(session: AsyncSession, nc: Nonconformity) -> Nonconformity | None:
    """An earlier NC of the same problem whose CAPA is open or asked for."""
    same_problem = []
    if nc.fingerprint:
        same_problem.append(col(Nonconformity.fingerprint) == nc.fingerprint)
    if nc.recurrence_key:
        same_problem.append(col(Nonconformity.recurrence_key) == nc.recurrence_key)
    if not same_problem:
        return None
    candidates = (await session.exec(
        select(Nonconformity).where(
            or_(*same_problem), Nonconformity.id != nc.id,
            col(Nonconformity.capa_link).in_(_WITH_CAPA))
        .order_by(col(Nonconformity.created_at).desc()).limit(_CANDIDATES))).all()
    return _pick(candidates)


_WITH_CAPA = (CapaLink.open, CapaLink.requested)


def _pick(candidates: Sequence[Nonconformity]) -> Nonconformity | None:
    # An open CAPA beats one still being opened; the escalated NC, not a waiting one.
    for other in candidates:
        if other.capa_link == CapaLink.open and other.capa_id is not None:
            return other
    for other in candidates:
        if other.escalated_at is not None:
            return other
    return None


class RecurrencePool:
    """:func:`capa_of_recurrence` for a whole payload: one query loads the NCs
    with a CAPA of every problem the payload's recurrences touch (the newest 21
    per fingerprint and per recurrence key, enough for the 20 newest of either
    with the NC itself left out), together with the payload's known NCs; the
    payload's own NCs join as they are decided, so each alert sees what the
    alerts before it decided, as a lookup after their flush would have."""

    def __init__(self) -> None:
        # Oldest first per fingerprint / recurrence key.
        self._by_fingerprint: dict[str, list[Nonconformity]] = defaultdict(list)
        self._by_key: dict[str, list[Nonconformity]] = defaultdict(list)
        self._ids: set[UUID] = set()

    @classmethod
    async def load(cls, session: AsyncSession, recurring: Sequence[Nonconformity],
                   known: Iterable[Nonconformity]) -> "RecurrencePool":
        fps = sorted({nc.fingerprint for nc in recurring if nc.fingerprint})
        rks = sorted({nc.recurrence_key for nc in recurring if nc.recurrence_key})
        found: list[Nonconformity] = list(known)
        for start in range(0, max(len(fps), len(rks)), _CHUNK):
            chunks = ((col(Nonconformity.fingerprint), fps[start:start + _CHUNK]),
                      (col(Nonconformity.recurrence_key), rks[start:start + _CHUNK]))
            newest = [col(Nonconformity.id).in_(_newest_with_capa(column, chunk))
                      for column, chunk in chunks if chunk]
            found += (await session.exec(select(Nonconformity).where(or_(*newest)))).all()
        pool = cls()
        for nc in found:
            pool.add(nc)
        return pool

    def add(self, nc: Nonconformity) -> None:
        if nc.id in self._ids:
            return
        self._ids.add(nc.id)
        if nc.fingerprint:
            insort(self._by_fingerprint[nc.fingerprint], nc, key=_created)
        if nc.recurrence_key:
            insort(self._by_key[nc.recurrence_key], nc, key=_created)

    def capa_of_recurrence(self, nc: Nonconformity) -> Nonconformity | None:
        same_problem = []
        if nc.fingerprint:
            same_problem.append(reversed(self._by_fingerprint[nc.fingerprint]))
        if nc.recurrence_key:
            same_problem.append(reversed(self._by_key[nc.recurrence_key]))
        candidates: list[Nonconformity] = []
        looked_at = {nc.id}
        for other in merge(*same_problem, key=_created, reverse=True):
            if other.id in looked_at:
                continue
            looked_at.add(other.id)
            if other.capa_link in _WITH_CAPA:
                candidates.append(other)
                if len(candidates) == _CANDIDATES:
                    break
        return _pick(candidates)


def _created(nc: Nonconformity) -> datetime:
    return nc.created_at


def _newest_with_capa(column: Any, values: list[str]) -> Select[tuple[UUID]]:
    rank = func.row_number().over(partition_by=column,
                                  order_by=col(Nonconformity.created_at).desc()).label("rank")
    ranked = select(col(Nonconformity.id), rank).where(
        column.in_(values), col(Nonconformity.capa_link).in_(_WITH_CAPA)).subquery()
    return select(ranked.c.id).where(ranked.c.rank <= _CANDIDATES + 1)


@dataclass(frozen=True)
class Verdict:
    decision: EscalationDecision
    seen: int
    open_other: Nonconformity | None  # the NC whose open CAPA this one joins


def decide(policy: EscalationPolicy, nc: Nonconformity, *, seen: int,
           other: Nonconformity | None) -> Verdict:
    """The policy's decision for ``nc``, seen ``seen`` times in the window, given
    the earlier NC of its problem with a CAPA (``capa_of_recurrence``)."""
    open_other = other if other is not None and other.capa_link == CapaLink.open else None
    decision = decide_escalation(
        policy, severity=nc.severity,
        finding_type=FindingType(nc.finding_type) if nc.finding_type else None,
        already_escalated=nc.escalated_at is not None, occurrences_in_window=seen,
        open_capa_of_recurrence=str(open_other.capa_id) if open_other else None,
        requested_capa_of_recurrence=str(other.id) if other and not open_other else None,
        capa_link=nc.capa_link)
    return Verdict(decision, seen, open_other)


async def evaluate(session: AsyncSession, nc: Nonconformity, *, policy: EscalationPolicy,
                   seen: int) -> Verdict:
    """:func:`decide` for one NC, looking the earlier NC up for a recurrence."""
    other = await capa_of_recurrence(session, nc) if seen > 1 else None
    return decide(policy, nc, seen=seen, other=other)


def record_verdict(session: AsyncSession, nc: Nonconformity, verdict: Verdict, *,
                   now: datetime, actor: str, recurred: bool,
                   causation: Causation | None = None) -> bool:
    """Escalate, link to an open CAPA, or just note the recurrence.

    Returns True when this call escalated the NC (``escalated`` is emitted at
    most once per NC: the policy refuses once ``escalated_at`` is set)."""
    decision, seen, open_other = verdict.decision, verdict.seen, verdict.open_other
    if decision.link_to and open_other is not None:
        nc.capa_id, nc.capa_number = open_other.capa_id, open_other.capa_number
        nc.capa_link = CapaLink.open
        add_history(session, nc, actor=actor, action="linked_to_capa",
                    changes={"capa_id": decision.link_to})
    if decision.wait_for:
        nc.joins_capa_of, nc.capa_link = UUID(decision.wait_for), CapaLink.requested
        add_history(session, nc, actor=actor, action="joins_requested_capa",
                    changes={"escalated_nonconformity": decision.wait_for})
        return False
    if decision.link_to or recurred or seen > 1:
        emit(session, nc, NonconformityRecurred, causation=causation,
             occurrence_count=max(seen, nc.occurrence_count), last_seen=nc.last_seen,
             capa_id=nc.capa_id if nc.capa_link == CapaLink.open else None, recurred_at=now)
    if not decision.escalate or decision.reason is None:
        return False
    nc.escalated_at, nc.escalation_reason = now, decision.reason.value
    nc.capa_link = CapaLink.requested
    add_history(session, nc, actor=actor, action="escalated",
                changes={"reason": decision.reason.value, "occurrences_in_window": seen})
    emit(session, nc, NonconformityEscalated, causation=causation, reason=decision.reason.value,
         description=nc.description, occurrence_count=seen, escalated_at=now)
    return True


async def apply_policy(session: AsyncSession, nc: Nonconformity, *, policy: EscalationPolicy,
                       now: datetime, actor: str, recurred: bool,
                       causation: Causation | None = None) -> bool:
    """Count, evaluate and record in one go, for an NC already flushed."""
    seen = await occurrences_in_window(session, nc, policy=policy, now=now)
    verdict = await evaluate(session, nc, policy=policy, seen=seen)
    return record_verdict(session, nc, verdict, now=now, actor=actor, recurred=recurred,
                          causation=causation)
