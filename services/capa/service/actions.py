"""Actions of a CAPA (correction, corrective, preventive) and the overdue job."""

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.auth import Principal
from shared.db import SessionFactory, transaction
from shared.errors import Conflict, Invalid, NotFound
from shared.events.capa import (
    CapaActionAdded,
    CapaActionCompleted,
    CapaActionOverdue,
    CapaOverdue,
)
from shared.idempotency import Claim, complete
from shared.outbox import record_event
from shared.versions import check_if_match

from ..domain import ActionStatus, CapaStatus
from ..domain.workflow import FINISHED_ACTION, OPEN_STATES
from ..models import ActionRow, Capa
from ..schemas import ActionCreate, ActionPublic, ActionUpdate
from .common import SYSTEM, action_view, event_fields, load_capa, record_change, touch
from .evidence import evidence_by_record

log = logging.getLogger(__name__)
SERVICE = "capa"
# Actions are planned and carried out before verification starts.
ACCEPTS_ACTIONS = (CapaStatus.open, CapaStatus.investigating, CapaStatus.action_planned,
                   CapaStatus.implementing)


def _record(action: ActionRow) -> dict[str, object]:
    return {"kind": action.kind, "description": action.description, "owner": action.owner,
            "due_date": action.due_date, "status": action.status,
            "completion_evidence": action.completion_evidence}


def _complete(action: ActionRow, capa_fields: dict[str, Any], *, by: str,
              now: datetime) -> CapaActionCompleted:
    if not action.completion_evidence:
        raise Invalid("A done action needs its completion evidence.",
                      [("completion_evidence", "Say what shows the action was done.")])
    action.completed_by, action.completed_at = by, now
    return CapaActionCompleted(**capa_fields, action_id=action.id,
                               kind=action.kind, completion_evidence=action.completion_evidence,
                               completed_by=by, completed_at=now)


async def add_action(sessions: SessionFactory, *, capa_id: UUID, request: ActionCreate,
                     principal: Principal, now: datetime,
                     claim: Claim | None = None) -> ActionPublic:
    async with transaction(sessions) as session:
        view = await add_action_in(session, capa_id=capa_id, request=request,
                                   principal=principal, now=now)
        await complete(session, claim, status=201, body=view.model_dump(mode="json"))
        return view


async def add_action_in(session: AsyncSession, *, capa_id: UUID, request: ActionCreate,
                        principal: Principal, now: datetime) -> ActionPublic:
    """Adding an action inside the caller's transaction (a review decision adds one
    together with recording the meeting)."""
    capa = await load_capa(session, capa_id, for_update=True)
    if capa.status not in ACCEPTS_ACTIONS:
        raise Conflict(f"Actions are added before verification; {capa.number} is "
                       f"{capa.status}.", status_now=str(capa.status))
    if request.status is ActionStatus.cancelled:
        raise Invalid("A new action cannot start cancelled.",
                      [("status", "Use planned, in_progress or done.")])
    action = ActionRow(capa_id=capa_id, kind=request.kind, description=request.description,
                       owner=request.owner, due_date=request.due_date,
                       status=request.status,
                       completion_evidence=request.completion_evidence,
                       created_by=principal.subject, created_at=now, updated_at=now)
    fields = event_fields(capa)
    completed = (_complete(action, fields, by=principal.subject, now=now)
                 if action.status == ActionStatus.done else None)
    session.add(action)
    touch(capa, now)
    await record_change(session, capa_id=capa_id, actor=principal.subject,
                        action="action_added", at=now,
                        after={"action_id": action.id, **_record(action)})
    record_event(session, service=SERVICE, data=CapaActionAdded(
        **fields, action_id=action.id, kind=action.kind, description=action.description,
        action_owner=action.owner, due_date=action.due_date, added_by=principal.subject,
        added_at=now))
    if completed is not None:
        record_event(session, service=SERVICE, data=completed)
    return action_view(action, now.date())


async def update_action(sessions: SessionFactory, *, capa_id: UUID, action_id: UUID,
                        request: ActionUpdate, if_match: str | None, principal: Principal,
                        now: datetime) -> ActionPublic:
    if request.status is ActionStatus.done and request.completion_evidence is None:
        # In the same request, as the OpenAPI says (request_rules.DONE_NEEDS_EVIDENCE):
        # evidence stored before is something no client's schema can see. Checked
        # first, so a stale If-Match does not hide the rule behind a 412.
        raise Invalid("Marking an action done needs its completion evidence with it.",
                      [("completion_evidence", "Say what shows the action was done.")])
    async with transaction(sessions) as session:
        capa = await load_capa(session, capa_id, for_update=True)
        action = await session.get(ActionRow, action_id)
        if action is None or action.capa_id != capa_id:
            raise NotFound(f"{capa.number} has no action {action_id}.")
        check_if_match(if_match, action.version)
        if capa.status not in OPEN_STATES:
            raise Conflict(f"{capa.number} is {capa.status}; its actions are part of the "
                           "record now.", status_now=str(capa.status))
        if action.status in FINISHED_ACTION:
            raise Conflict(f"The action is {action.status}; finished actions are part of the "
                           "record and are not changed.", action_status=str(action.status))
        before = _record(action)
        changes = request.model_dump(exclude_unset=True)
        for name, value in changes.items():
            if value is None and name != "completion_evidence":
                raise Invalid("These fields cannot be emptied.", [(name, "may not be null")])
            setattr(action, name, value)
        after = _record(action)
        if after == before:
            return action_view(action, now.date())
        if before["due_date"] != after["due_date"]:
            action.overdue_notified_at = None  # a new due date may become overdue again
        completed = (_complete(action, event_fields(capa), by=principal.subject, now=now)
                     if action.status == ActionStatus.done else None)
        action.version += 1
        action.updated_at = now
        touch(capa, now)
        await record_change(session, capa_id=capa_id, actor=principal.subject,
                            action="action_updated", at=now,
                            before={"action_id": action.id, **before},
                            after={"action_id": action.id, **after})
        if completed is not None:
            record_event(session, service=SERVICE, data=completed)
        return action_view(action, now.date())


async def get_action(sessions: SessionFactory, *, capa_id: UUID, action_id: UUID,
                     now: datetime) -> ActionPublic:
    async with sessions() as session:
        action = await session.get(ActionRow, action_id)
        if action is None or action.capa_id != capa_id:
            raise NotFound(f"There is no action {action_id} on CAPA {capa_id}.")
        evidence = await evidence_by_record(session, capa_id)
        return action_view(action, now.date(), evidence.get(action.id, []))


async def list_actions(sessions: SessionFactory, *, capa_id: UUID,
                       now: datetime) -> list[ActionPublic]:
    async with sessions() as session:
        await load_capa(session, capa_id)
        rows = (await session.exec(select(ActionRow).where(col(ActionRow.capa_id) == capa_id)
                                   .order_by(col(ActionRow.created_at), col(ActionRow.id)))
                ).all()
        evidence = await evidence_by_record(session, capa_id)
        return [action_view(a, now.date(), evidence.get(a.id, [])) for a in rows]


@dataclass(frozen=True)
class OverdueReport:
    actions: int
    capas: int


async def detect_overdue(sessions: SessionFactory, *, now: datetime,
                         batch_size: int = 500) -> OverdueReport:
    """Emit ``capa.action_overdue`` / ``capa.overdue`` once per overdue item.

    The notice is stamped on the row by a conditional update in the same
    transaction as the event, so later runs (or a second replica) skip it.
    """
    today = now.date()
    async with transaction(sessions) as session:
        due_actions = (await session.exec(
            select(ActionRow, Capa).join(Capa, col(Capa.id) == col(ActionRow.capa_id))
            .where(col(ActionRow.status).in_([ActionStatus.planned, ActionStatus.in_progress]),
                   col(ActionRow.due_date) < today,
                   col(ActionRow.overdue_notified_at).is_(None),
                   col(Capa.status).in_(list(OPEN_STATES)))
            .order_by(col(ActionRow.due_date)).limit(batch_size))).all()
        actions = 0
        for action, capa in due_actions:
            stamped = await session.exec(
                update(ActionRow).where(col(ActionRow.id) == action.id,
                                        col(ActionRow.overdue_notified_at).is_(None))
                .values(overdue_notified_at=now))
            if stamped.rowcount != 1:
                continue
            actions += 1
            await load_capa(session, capa.id, for_update=True)
            await record_change(session, capa_id=capa.id, actor=SYSTEM, action="action_overdue",
                                at=now, after={"action_id": action.id,
                                               "due_date": action.due_date})
            record_event(session, service=SERVICE, data=CapaActionOverdue(
                **event_fields(capa), action_id=action.id, kind=action.kind,
                description=action.description, action_owner=action.owner,
                due_date=action.due_date, detected_at=now))
        due_capas = (await session.exec(
            select(Capa).where(col(Capa.status).in_(list(OPEN_STATES)),
                               col(Capa.due_date) < today,
                               col(Capa.overdue_notified_at).is_(None))
            .order_by(col(Capa.due_date)).limit(batch_size))).all()
        capas = 0
        for capa in due_capas:
            stamped = await session.exec(
                update(Capa).where(col(Capa.id) == capa.id,
                                   col(Capa.overdue_notified_at).is_(None))
                .values(overdue_notified_at=now))
            if stamped.rowcount != 1:
                continue
            capas += 1
            await record_change(session, capa_id=capa.id, actor=SYSTEM, action="overdue",
                                at=now, after={"due_date": capa.due_date,
                                               "status": capa.status})
            record_event(session, service=SERVICE, data=CapaOverdue(
                **event_fields(capa), status=capa.status, due_date=capa.due_date,
                detected_at=now))
    if actions or capas:
        log.info("overdue: %d actions, %d CAPAs notified", actions, capas)
    return OverdueReport(actions=actions, capas=capas)
