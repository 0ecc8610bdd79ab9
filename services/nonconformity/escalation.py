"""Applies the escalation policy to one NC inside the caller's transaction."""

from datetime import datetime
from uuid import UUID

from sqlalchemy import func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.events.envelope import Causation
from shared.events.nonconformity import NonconformityEscalated, NonconformityRecurred

from .domain import CapaLink, EscalationPolicy, FindingType, decide_escalation
from .models import Nonconformity, Occurrence
from .records import add_history, emit


async def occurrences_in_window(session: AsyncSession, nc: Nonconformity, *,
                                policy: EscalationPolicy, now: datetime) -> int:
    since = now - policy.recurrence_window
    counts = [0]
    if nc.fingerprint:
        counts.append((await session.exec(
            select(func.count()).select_from(Occurrence).where(
                Occurrence.fingerprint == nc.fingerprint,
                col(Occurrence.started_at) >= since))).one())
    if nc.recurrence_key:
        counts.append((await session.exec(
            select(func.count()).select_from(Nonconformity).where(
                Nonconformity.recurrence_key == nc.recurrence_key,
                col(Nonconformity.created_at) >= since))).one())
    return max(counts)


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
            col(Nonconformity.capa_link).in_([CapaLink.open, CapaLink.requested]))
        .order_by(col(Nonconformity.created_at).desc()).limit(20))).all()
    # An open CAPA beats one still being opened; the escalated NC, not a waiting one.
    for other in candidates:
        if other.capa_link == CapaLink.open and other.capa_id is not None:
            return other
    for other in candidates:
        if other.escalated_at is not None:
            return other
    return None


async def apply_policy(session: AsyncSession, nc: Nonconformity, *, policy: EscalationPolicy,
                       now: datetime, actor: str, recurred: bool,
                       causation: Causation | None = None) -> bool:
    """Escalate, link to an open CAPA, or just note the recurrence.

    Returns True when this call escalated the NC (``escalated`` is emitted at
    most once per NC: the policy refuses once ``escalated_at`` is set)."""
    seen = await occurrences_in_window(session, nc, policy=policy, now=now)
    other = await capa_of_recurrence(session, nc) if seen > 1 else None
    open_other = other if other is not None and other.capa_link == CapaLink.open else None
    decision = decide_escalation(
        policy, severity=nc.severity,
        finding_type=FindingType(nc.finding_type) if nc.finding_type else None,
        already_escalated=nc.escalated_at is not None, occurrences_in_window=seen,
        open_capa_of_recurrence=str(open_other.capa_id) if open_other else None,
        requested_capa_of_recurrence=str(other.id) if other and not open_other else None,
        capa_link=nc.capa_link)

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
