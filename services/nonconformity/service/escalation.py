"""Applies the escalation policy to NCs inside the caller's transaction: the
reads the policy needs and the writes its verdict asks for.

The rules (what counts in the window, which earlier NC's CAPA a recurrence
joins, the verdict) are the domain's (domain.recurrence, domain.escalation).
Here are their reads: :func:`occurrences_in_window` and
:func:`capa_of_recurrence` for one NC, :func:`load_window_counts` and
:func:`load_recurrence_pool` for a whole alert payload (one grouped read each
instead of one per alert); :func:`record_verdict` then writes what was decided.
"""

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Select, func, literal, or_, union_all
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.events.envelope import Causation
from shared.events.nonconformity import NonconformityEscalated, NonconformityRecurred

from ..domain import CapaLink, EscalationPolicy, Verdict, decide
from ..domain.recurrence import (
    CANDIDATES,
    WITH_CAPA,
    RecurrencePool,
    WindowCounts,
    pick_capa_to_join,
    times_seen,
    window_start,
)
from ..models import Nonconformity, Occurrence
from .records import add_history, emit

_CHUNK = 500  # keys per grouped read, well under every driver's bind-parameter limit


async def occurrences_in_window(session: AsyncSession, nc: Nonconformity, *,
                                policy: EscalationPolicy, now: datetime) -> int:
    """Occurrences of this NC's fingerprint, or NCs of its recurrence key, in the
    window, whichever is more; both counts travel in one statement."""
    since = window_start(policy, now)
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
        return times_seen()
    # sqlmodel hands back a bare value for one column, a row for two.
    found = (await session.exec(select(*counts))).one()
    return times_seen(*found) if len(counts) > 1 else times_seen(int(found))


async def load_window_counts(session: AsyncSession, *, since: datetime,
                             fingerprints: Iterable[str | None],
                             keys: Iterable[str | None]) -> WindowCounts:
    """:func:`occurrences_in_window`'s counts for many problems at once, grouped,
    read before the payload writes anything."""
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
    return WindowCounts(since, by_fingerprint, by_key)


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
            col(Nonconformity.capa_link).in_(WITH_CAPA))
        .order_by(col(Nonconformity.created_at).desc()).limit(CANDIDATES))).all()
    return pick_capa_to_join(candidates)


async def load_recurrence_pool(session: AsyncSession, recurring: Sequence[Nonconformity],
                               known: Iterable[Nonconformity]
                               ) -> RecurrencePool[Nonconformity]:
    """:func:`capa_of_recurrence` for a whole payload: one read loads the NCs
    with a CAPA of every problem the payload's recurrences touch (the newest
    CANDIDATES + 1 per fingerprint and per recurrence key), together with the
    payload's known NCs."""
    fps = sorted({nc.fingerprint for nc in recurring if nc.fingerprint})
    rks = sorted({nc.recurrence_key for nc in recurring if nc.recurrence_key})
    found: list[Nonconformity] = list(known)
    for start in range(0, max(len(fps), len(rks)), _CHUNK):
        chunks = ((col(Nonconformity.fingerprint), fps[start:start + _CHUNK]),
                  (col(Nonconformity.recurrence_key), rks[start:start + _CHUNK]))
        newest = [col(Nonconformity.id).in_(_newest_with_capa(column, chunk))
                  for column, chunk in chunks if chunk]
        found += (await session.exec(select(Nonconformity).where(or_(*newest)))).all()
    return RecurrencePool(found)


def _newest_with_capa(column: Any, values: list[str]) -> Select[tuple[UUID]]:
    rank = func.row_number().over(partition_by=column,
                                  order_by=col(Nonconformity.created_at).desc()).label("rank")
    ranked = select(col(Nonconformity.id), rank).where(
        column.in_(values), col(Nonconformity.capa_link).in_(WITH_CAPA)).subquery()
    return select(ranked.c.id).where(ranked.c.rank <= CANDIDATES + 1)


async def evaluate(session: AsyncSession, nc: Nonconformity, *, policy: EscalationPolicy,
                   seen: int) -> Verdict[Nonconformity]:
    """The verdict for one NC, looking the earlier NC up for a recurrence."""
    other = await capa_of_recurrence(session, nc) if seen > 1 else None
    return decide(policy, nc, seen=seen, other=other)


def record_verdict(session: AsyncSession, nc: Nonconformity,
                   verdict: Verdict[Nonconformity], *,
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
