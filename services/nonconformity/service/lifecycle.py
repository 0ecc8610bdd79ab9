"""Use cases that move a nonconformity along: edit, triage, correction, close, reopen."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

from sqlmodel import col, delete
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import SessionFactory, transaction, utcnow
from shared.events.nonconformity import (
    NonconformityClosed,
    NonconformityCorrectionRecorded,
    NonconformityReopened,
    NonconformityTriaged,
    NonconformityUpdated,
)
from shared.versions import check_if_match

from ..domain import (
    CapaLink,
    EscalationPolicy,
    NonconformityNotFound,
    NonconformityStatus,
    TransitionRefused,
    TriageDecision,
    check_can_close,
    check_can_reopen,
    check_editable,
    recurrence_key,
    triage_outcome,
)
from ..models import Nonconformity, NonconformityTag
from ..schemas import NonconformityPublic, NonconformityUpdate, TriageRequest
from .escalation import apply_policy
from .records import add_history, emit, touch


@asynccontextmanager
async def _editing(sessions: SessionFactory, nc_id: UUID,
                   if_match: str | None) -> AsyncIterator[tuple[AsyncSession, Nonconformity]]:
    async with transaction(sessions) as session:
        nc = await session.get(Nonconformity, nc_id, with_for_update=True)
        if nc is None:
            raise NonconformityNotFound(nc_id)
        check_if_match(if_match, nc.version)
        before = nc.model_dump(warnings=False)
        yield session, nc
        if nc.model_dump(warnings=False) != before:
            touch(nc)  # a request that changed nothing keeps the version (and ETag)
            session.add(nc)


async def update_nonconformity(*, sessions: SessionFactory, policy: EscalationPolicy,
                               nc_id: UUID, if_match: str | None,
                               changes: NonconformityUpdate, actor: str) -> NonconformityPublic:
    wanted = changes.model_dump(mode="json", exclude_unset=True, exclude={"reason"})
    async with _editing(sessions, nc_id, if_match) as (session, nc):
        check_editable(NonconformityStatus(nc.status))
        before: dict[str, Any] = {}
        for name, value in wanted.items():
            if getattr(nc, name) != value:
                before[name] = getattr(nc, name)
                setattr(nc, name, value)
        if "tags" in before:
            await session.exec(delete(NonconformityTag).where(
                col(NonconformityTag.nonconformity_id) == nc.id))
            for tag in dict.fromkeys(nc.tags):
                session.add(NonconformityTag(nonconformity_id=nc.id, tag=tag))
        if {"category", "affected_item"} & before.keys():
            nc.recurrence_key = recurrence_key(nc.category, nc.affected_item)
        if before:
            add_history(session, nc, actor=actor, action="updated", reason=changes.reason,
                        changes={k: {"before": v, "after": getattr(nc, k)}
                                 for k, v in before.items()})
            emit(session, nc, NonconformityUpdated, changed_fields=sorted(before),
                 updated_by=actor, updated_at=utcnow())
        if {"severity", "category", "affected_item"} & before.keys():
            # A raised severity or a re-categorised NC may now meet the policy.
            await session.flush()
            await apply_policy(session, nc, policy=policy, now=utcnow(), actor=actor,
                               recurred=False)
    return NonconformityPublic.model_validate(nc)


async def triage(*, sessions: SessionFactory, nc_id: UUID, request: TriageRequest,
                 if_match: str | None, actor: str) -> NonconformityPublic:
    if request.decision is TriageDecision.duplicate and request.duplicate_of is None:
        raise TransitionRefused("Name the nonconformity this one duplicates (duplicate_of).",
                                allowed=["accept", "reject", "duplicate"])
    async with _editing(sessions, nc_id, if_match) as (session, nc):
        if request.duplicate_of is not None:
            if request.duplicate_of == nc.id:
                raise TransitionRefused("A nonconformity cannot duplicate itself.",
                                        allowed=["accept", "reject"])
            if await session.get(Nonconformity, request.duplicate_of) is None:
                raise NonconformityNotFound(request.duplicate_of)
        before = nc.status
        nc.status = triage_outcome(NonconformityStatus(nc.status), request.decision)
        nc.triage_reason = request.reason
        nc.duplicate_of = request.duplicate_of
        if request.owner:
            nc.owner = request.owner
        add_history(session, nc, actor=actor, action="triaged", reason=request.reason,
                    changes={"status": {"before": before, "after": nc.status},
                             "owner": nc.owner, "duplicate_of": str(nc.duplicate_of or "")})
        emit(session, nc, NonconformityTriaged, decision=nc.status, reason=request.reason,
             duplicate_of=request.duplicate_of, triaged_by=actor, triaged_at=utcnow())
    return NonconformityPublic.model_validate(nc)


async def record_correction(*, sessions: SessionFactory, nc_id: UUID, correction: str,
                            actor: str, if_match: str | None = None) -> NonconformityPublic:
    async with _editing(sessions, nc_id, if_match or "*") as (session, nc):
        check_editable(NonconformityStatus(nc.status))
        nc.correction, nc.correction_by, nc.correction_at = correction, actor, utcnow()
        add_history(session, nc, actor=actor, action="correction_recorded",
                    changes={"correction": correction})
        emit(session, nc, NonconformityCorrectionRecorded, correction=correction,
             recorded_by=actor, recorded_at=nc.correction_at)
    return NonconformityPublic.model_validate(nc)


async def close(*, sessions: SessionFactory, nc_id: UUID, resolution: str,
                actor: str, if_match: str | None = None) -> NonconformityPublic:
    async with _editing(sessions, nc_id, if_match or "*") as (session, nc):
        check_can_close(NonconformityStatus(nc.status), CapaLink(nc.capa_link))
        close_in_session(session, nc, resolution=resolution, actor=actor)
    return NonconformityPublic.model_validate(nc)


def close_in_session(session: AsyncSession, nc: Nonconformity, *, resolution: str, actor: str,
                     **event_fields: Any) -> None:
    before = nc.status
    nc.status, nc.resolution, nc.closed_at = NonconformityStatus.closed, resolution, utcnow()
    add_history(session, nc, actor=actor, action="closed", reason=resolution,
                changes={"status": {"before": before, "after": nc.status}})
    emit(session, nc, NonconformityClosed, resolution=resolution, closed_by=actor,
         closed_at=nc.closed_at, capa_id=nc.capa_id, **event_fields)


async def reopen(*, sessions: SessionFactory, nc_id: UUID, reason: str,
                 actor: str, if_match: str | None = None) -> NonconformityPublic:
    async with _editing(sessions, nc_id, if_match or "*") as (session, nc):
        check_can_reopen(NonconformityStatus(nc.status))
        before = nc.status
        nc.status, nc.closed_at, nc.resolution = NonconformityStatus.reported, None, None
        add_history(session, nc, actor=actor, action="reopened", reason=reason,
                    changes={"status": {"before": before, "after": nc.status}})
        emit(session, nc, NonconformityReopened, reason=reason, reopened_by=actor,
             reopened_at=utcnow())
    return NonconformityPublic.model_validate(nc)
