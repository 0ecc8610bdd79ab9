"""Use case: alerts from monitoring tools become nonconformities.

One NC per alert fingerprint while it is not closed. A notification that
repeats a firing we know (same fingerprint and start time) only moves
``last_seen``; a new start time is a re-firing: another occurrence, which
the escalation policy counts. A resolved alert records its end time.

A payload is handled as a batch: a fixed handful of reads for all its alerts,
then every row is built in memory and written by one flush at COMMIT, which
SQLAlchemy sends as one multi-row INSERT per table. The alerts are still
decided one after the other, in payload order, each seeing what the alerts
before it wrote, exactly as when each was flushed on its own.
"""

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from uuid import UUID

from sqlalchemy import text, tuple_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import SessionFactory, retrying_conflicts, utcnow
from shared.events.nonconformity import NonconformityUpdated

from ..domain import EscalationPolicy, NonconformityStatus, Source, Verdict, decide
from ..domain.alerts import Observation
from ..domain.recurrence import RecurrencePool, window_start
from ..models import Nonconformity, Occurrence
from ..schemas import IntakeResult
from .escalation import load_recurrence_pool, load_window_counts, record_verdict
from .records import (
    add_history,
    add_reported,
    allocate_numbers,
    dialect,
    emit,
    emit_reported,
    new_nonconformity,
    touch,
)

_CHUNK = 500  # stay under bind-parameter limits


class _Kind(Enum):
    new = "new"
    repeat = "repeat"  # a firing we already have, sent again
    refire = "refire"
    resolved = "resolved"


@dataclass
class _Alert:
    observation: Observation
    nc: Nonconformity
    kind: _Kind
    started: datetime  # start of the occurrence this alert adds or names
    occurrence: Occurrence | None = None  # the known firing with this start
    seen: int = 0  # occurrences in the policy's window, for new and re-firing alerts


async def ingest_alerts(*, sessions: SessionFactory, policy: EscalationPolicy, tool: str,
                        observations: Sequence[Observation], truncated: int) -> IntakeResult:
    # The last word on a fingerprint within one payload wins.
    latest = {o.fingerprint: o for o in observations}

    async def ingest(session: AsyncSession) -> IntakeResult:
        result = IntakeResult(received=len(observations), created=[], updated=[],
                              resolved=[], escalated=[], truncated_alerts=truncated)
        if dialect(session) == "postgresql":
            # Two payloads carrying the same new fingerprint must not open two NCs.
            await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))")
                                  .bindparams(k=f"alerts:{tool}"))
        known = await _open_by_fingerprint(session, tool, list(latest))
        firings = await _firings(session, [(known[fp].id, o.started_at)
                                           for fp, o in latest.items() if fp in known])
        new = [fp for fp in latest if fp not in known]
        # The year's counter stays locked from here to COMMIT; the policy counts
        # after it, so a concurrent report of the same problem is seen (as before).
        numbers = iter(await allocate_numbers(session, len(new)) if new else [])
        now = utcnow()
        alerts = [_classify(o, known.get(fp), firings, tool=tool, truncated=truncated,
                            numbers=numbers)
                  for fp, o in latest.items()]
        pool = await _count_recurrences(session, alerts, known.values(), policy=policy, now=now)
        for alert in alerts:
            _apply(session, alert, result, policy=policy, pool=pool, truncated=truncated,
                   now=now)
        return result

    # A payload updates many NCs at once while the consumer of CAPA events locks
    # some of them in its own order: a deadlock victim runs again from scratch.
    return await retrying_conflicts(sessions, ingest)


def _classify(o: Observation, nc: Nonconformity | None,
              firings: dict[tuple[UUID, datetime], Occurrence], *, tool: str, truncated: int,
              numbers: Iterator[str]) -> _Alert:
    if nc is None:
        draft, started = new_nonconformity(fields=_new_fields(o, truncated), reported_by=tool,
                                           number=next(numbers), now=utcnow())
        return _Alert(o, draft, _Kind.new, started)
    occurrence = firings.get((nc.id, o.started_at))
    if not o.firing:
        return _Alert(o, nc, _Kind.resolved, o.started_at, occurrence)
    return _Alert(o, nc, _Kind.repeat if occurrence else _Kind.refire, o.started_at, occurrence)


async def _count_recurrences(session: AsyncSession, alerts: list[_Alert],
                             known: Iterable[Nonconformity], *, policy: EscalationPolicy,
                             now: datetime) -> RecurrencePool[Nonconformity] | None:
    """Sets ``seen`` of every new and re-firing alert; returns the NCs with a
    CAPA that recurrences may join (None when nothing recurs)."""
    counted = [a for a in alerts if a.kind in (_Kind.new, _Kind.refire)]
    if not counted:
        return None
    counts = await load_window_counts(session, since=window_start(policy, now),
                                      fingerprints=[a.nc.fingerprint for a in counted],
                                      keys=[a.nc.recurrence_key for a in counted])
    for alert in counted:  # in payload order: each counts the alerts before it and itself
        if alert.kind is _Kind.new:
            counts.add_nonconformity(alert.nc)
        counts.add_occurrence(alert.nc.fingerprint, alert.started)
        alert.seen = counts.seen(alert.nc)
    recurring = [a.nc for a in counted if a.seen > 1]
    return await load_recurrence_pool(session, recurring, known) if recurring else None


def _apply(session: AsyncSession, alert: _Alert, result: IntakeResult, *,
           policy: EscalationPolicy, pool: RecurrencePool[Nonconformity] | None, truncated: int,
           now: datetime) -> None:
    nc, o = alert.nc, alert.observation
    if alert.kind is _Kind.new:
        verdict = _decide(alert, policy=policy, pool=pool)
        add_reported(session, nc, started=alert.started)
        emit_reported(session, nc)
        escalated = record_verdict(session, nc, verdict, now=nc.created_at, actor=nc.reported_by,
                                   recurred=False)
        if pool:
            pool.add(nc)  # later alerts of its problem may join its CAPA
        result.created.append(nc.number)
        if escalated:
            result.escalated.append(nc.number)
        if not o.firing:
            result.resolved.append(nc.number)
        return
    nc.truncated_alerts = max(nc.truncated_alerts, truncated)
    if alert.kind is _Kind.resolved:
        _resolved(session, nc, o, alert.occurrence, now=now)
        result.resolved.append(nc.number)
        return
    nc.last_seen = now
    if alert.kind is _Kind.refire:
        verdict = _decide(alert, policy=policy, pool=pool)
        _refired(session, nc, o)
        if record_verdict(session, nc, verdict, now=now, actor=nc.reported_by, recurred=True):
            result.escalated.append(nc.number)
    result.updated.append(nc.number)


def _decide(alert: _Alert, *, policy: EscalationPolicy,
            pool: RecurrencePool[Nonconformity] | None) -> Verdict[Nonconformity]:
    # Before the alert's own changes, like the NC state a per-alert flush saw.
    other = pool.capa_of_recurrence(alert.nc) if pool and alert.seen > 1 else None
    return decide(policy, alert.nc, seen=alert.seen, other=other)


def _new_fields(o: Observation, truncated: int) -> dict[str, object]:
    return {"title": o.title, "description": o.description, "source": Source.monitoring.value,
            "severity": o.severity, "category": o.category, "affected_item": o.affected_item,
            "tags": o.tags, "links": o.links, "fingerprint": o.fingerprint,
            "occurred_at": o.started_at, "started_at": o.started_at,
            "resolved_at": None if o.firing else (o.ended_at or utcnow()),
            "truncated_alerts": truncated}


async def _open_by_fingerprint(session: AsyncSession, tool: str,
                               fingerprints: list[str]) -> dict[str, Nonconformity]:
    found: dict[str, Nonconformity] = {}
    for start in range(0, len(fingerprints), _CHUNK):
        rows = (await session.exec(select(Nonconformity).where(
            col(Nonconformity.fingerprint).in_(fingerprints[start:start + _CHUNK]),
            Nonconformity.reported_by == tool,
            Nonconformity.status != NonconformityStatus.closed)
            .order_by(col(Nonconformity.created_at)))).all()
        found.update({nc.fingerprint: nc for nc in rows if nc.fingerprint})
    return found


async def _firings(session: AsyncSession, starts: list[tuple[UUID, datetime]]
                   ) -> dict[tuple[UUID, datetime], Occurrence]:
    """The known NCs' occurrences with the start times the payload names."""
    found: dict[tuple[UUID, datetime], Occurrence] = {}
    for start in range(0, len(starts), _CHUNK):
        rows = (await session.exec(select(Occurrence).where(
            tuple_(col(Occurrence.nonconformity_id), col(Occurrence.started_at))
            .in_(starts[start:start + _CHUNK])))).all()
        found.update({(o.nonconformity_id, o.started_at): o for o in rows})
    return found


def _refired(session: AsyncSession, nc: Nonconformity, o: Observation) -> None:
    session.add(Occurrence(nonconformity_id=nc.id, fingerprint=nc.fingerprint,
                           started_at=o.started_at))
    nc.occurrence_count += 1
    nc.resolved_at = None
    touch(nc)
    add_history(session, nc, actor=nc.reported_by, action="refired",
                changes={"occurrence_count": nc.occurrence_count,
                         "started_at": o.started_at.isoformat()})


def _resolved(session: AsyncSession, nc: Nonconformity, o: Observation,
              occurrence: Occurrence | None, *, now: datetime) -> None:
    ended = o.ended_at or now
    if occurrence is not None:
        occurrence.ended_at = ended
    if nc.resolved_at == ended:
        return  # the same resolution sent again
    nc.resolved_at, nc.last_seen = ended, now
    touch(nc)
    add_history(session, nc, actor=nc.reported_by, action="alert_resolved",
                changes={"resolved_at": ended.isoformat()})
    emit(session, nc, NonconformityUpdated, changed_fields=["resolved_at"],
         updated_by=nc.reported_by, updated_at=now)
