"""Use case: alerts from monitoring tools become nonconformities.

One NC per alert fingerprint while it is not closed. A notification that
repeats a firing we know (same fingerprint and start time) only moves
``last_seen``; a new start time is a re-firing: another occurrence, which
the escalation policy counts. A resolved alert records its end time.
"""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import SessionFactory, transaction, utcnow
from shared.events.nonconformity import NonconformityUpdated

from .domain import EscalationPolicy, NonconformityStatus, Source
from .escalation import apply_policy
from .intake.alerts import Observation
from .models import Nonconformity, Occurrence
from .records import add_history, allocate_numbers, dialect, emit, touch
from .reporting import create_nonconformity
from .schemas import IntakeResult


async def ingest_alerts(*, sessions: SessionFactory, policy: EscalationPolicy, tool: str,
                        observations: Sequence[Observation], truncated: int) -> IntakeResult:
    # The last word on a fingerprint within one payload wins.
    latest = {o.fingerprint: o for o in observations}
    result = IntakeResult(received=len(observations), created=[], updated=[], resolved=[],
                          escalated=[], truncated_alerts=truncated)
    async with transaction(sessions) as session:
        if dialect(session) == "postgresql":
            # Two payloads carrying the same new fingerprint must not open two NCs.
            await session.exec(text("SELECT pg_advisory_xact_lock(hashtext(:k))")  # type: ignore[call-overload]
                               .bindparams(k=f"alerts:{tool}"))
        known = await _open_by_fingerprint(session, tool, list(latest))
        new = [o for fp, o in latest.items() if fp not in known]
        numbers = iter(await allocate_numbers(session, len(new)) if new else [])
        now = utcnow()
        for fingerprint, observation in latest.items():
            nc = known.get(fingerprint)
            if nc is None:
                nc = await create_nonconformity(
                    session, policy=policy, reported_by=tool, number=next(numbers),
                    fields=_new_fields(observation, truncated))
                result.created.append(nc.number)
                if nc.escalated_at is not None:
                    result.escalated.append(nc.number)
                if not observation.firing:
                    result.resolved.append(nc.number)
                continue
            nc.truncated_alerts = max(nc.truncated_alerts, truncated)
            if observation.firing:
                if await _refired(session, nc, observation, policy=policy, now=now):
                    result.escalated.append(nc.number)
                result.updated.append(nc.number)
            else:
                await _resolved(session, nc, observation, now=now)
                result.resolved.append(nc.number)
    return result


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
    for start in range(0, len(fingerprints), 500):  # stay under bind-parameter limits
        rows = (await session.exec(select(Nonconformity).where(
            col(Nonconformity.fingerprint).in_(fingerprints[start:start + 500]),
            Nonconformity.reported_by == tool,
            Nonconformity.status != NonconformityStatus.closed)
            .order_by(col(Nonconformity.created_at)))).all()
        found.update({nc.fingerprint: nc for nc in rows if nc.fingerprint})
    return found


async def _refired(session: AsyncSession, nc: Nonconformity, o: Observation, *,
                   policy: EscalationPolicy, now: datetime) -> bool:
    known = (await session.exec(select(Occurrence).where(
        Occurrence.nonconformity_id == nc.id, Occurrence.started_at == o.started_at))).first()
    nc.last_seen = now
    if known is not None:
        session.add(nc)  # a repeated notification of a firing we already have
        return False
    session.add(Occurrence(nonconformity_id=nc.id, fingerprint=nc.fingerprint,
                           started_at=o.started_at))
    nc.occurrence_count += 1
    nc.resolved_at = None
    touch(nc)
    session.add(nc)
    add_history(session, nc, actor=nc.reported_by, action="refired",
                changes={"occurrence_count": nc.occurrence_count,
                         "started_at": o.started_at.isoformat()})
    await session.flush()
    return await apply_policy(session, nc, policy=policy, now=now, actor=nc.reported_by,
                              recurred=True)


async def _resolved(session: AsyncSession, nc: Nonconformity, o: Observation, *,
                    now: datetime) -> None:
    ended = o.ended_at or now
    occurrence = (await session.exec(select(Occurrence).where(
        Occurrence.nonconformity_id == nc.id, Occurrence.started_at == o.started_at))).first()
    if occurrence is not None:
        occurrence.ended_at = ended
        session.add(occurrence)
    if nc.resolved_at == ended:
        return  # the same resolution sent again
    nc.resolved_at, nc.last_seen = ended, now
    touch(nc)
    session.add(nc)
    add_history(session, nc, actor=nc.reported_by, action="alert_resolved",
                changes={"resolved_at": ended.isoformat()})
    emit(session, nc, NonconformityUpdated, changed_fields=["resolved_at"],
         updated_by=nc.reported_by, updated_at=now)
