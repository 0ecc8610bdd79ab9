"""The reminder job: actions and CAPAs falling due, effectiveness checks that have come.

Each reminder is sent once per (kind, record, due date), also with several
replicas running: its key is inserted into ``capa_reminders`` (insert-or-nothing
on the unique key) in the transaction that records its event, so a second
replica's insert of the same key does nothing and it emits nothing. A due date
moved is a new key: the reminder is armed again.

One transaction per reminder, the CAPA row locked first: a job holds at most
one CAPA lock at a time, so two replicas cannot deadlock over each other's
batches, and the candidate is judged again under the lock (an action finished
or a due date moved since the look-up is not reminded).
"""

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import and_
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import SessionFactory, transaction
from shared.events.base import EventData
from shared.events.capa import CapaActionDueSoon, CapaDueSoon, CapaEffectivenessCheckDue
from shared.outbox import record_event

from ..domain import ActionStatus
from ..domain.schedule import (
    ReminderKind,
    check_has_come,
    due_soon,
    reminder_window,
    utc_day,
)
from ..domain.workflow import OPEN_STATES
from ..models import ActionRow, Capa, EffectivenessVerification, Reminder
from .common import SYSTEM, event_fields, load_capa, record_change

log = logging.getLogger(__name__)
SERVICE = "capa"
UNFINISHED = (ActionStatus.planned, ActionStatus.in_progress)


@dataclass(frozen=True)
class ReminderReport:
    actions: int
    capas: int
    effectiveness_checks: int


# Builds the reminder's event from the rows locked in its transaction, or None
# when the record no longer qualifies.
Judge = Callable[[AsyncSession, Capa], Awaitable[EventData | None]]


def _not_reminded(kind: ReminderKind, record_id: Any, due: Any) -> Any:
    """No reminder of this kind for this record and due date yet."""
    return ~select(Reminder.id).where(col(Reminder.kind) == kind.value,
                                      col(Reminder.record_id) == record_id,
                                      col(Reminder.due_date) == due).exists()


async def _claim_key(session: AsyncSession, kind: ReminderKind, record_id: UUID, due: date,
                     capa_id: UUID, now: datetime) -> bool:
    """Insert the reminder's key unless it exists; True when this transaction did."""
    insert = (postgresql.insert if session.get_bind().dialect.name == "postgresql"
              else sqlite.insert)
    inserted = (await session.exec(insert(Reminder).values(
        kind=kind.value, record_id=record_id, due_date=due, capa_id=capa_id, sent_at=now)
        .on_conflict_do_nothing(index_elements=["kind", "record_id", "due_date"])
        .returning(col(Reminder.id)))).first()
    return inserted is not None


async def _remind(sessions: SessionFactory, *, kind: ReminderKind, capa_id: UUID,
                  record_id: UUID, due: date, judge: Judge, now: datetime) -> bool:
    """Send one reminder if it still applies and nobody sent it; True when sent."""
    async with transaction(sessions) as session:
        capa = await load_capa(session, capa_id, for_update=True)
        data = await judge(session, capa)
        if data is None or not await _claim_key(session, kind, record_id, due, capa_id, now):
            return False
        await record_change(session, capa_id=capa_id, actor=SYSTEM, action="reminded", at=now,
                            after={"kind": kind.value, "record_id": record_id,
                                   "due_date": due})
        record_event(session, service=SERVICE, data=data)
        return True


def _action_judge(action_id: UUID, due: date, *, today: date, days: int,
                  now: datetime) -> Judge:
    async def judge(session: AsyncSession, capa: Capa) -> EventData | None:
        action = await session.get(ActionRow, action_id)
        if (action is None or capa.status not in OPEN_STATES
                or action.status not in UNFINISHED or action.due_date != due
                or not due_soon(due, today, days)):
            return None
        return CapaActionDueSoon(**event_fields(capa), action_id=action.id, kind=action.kind,
                                 description=action.description, action_owner=action.owner,
                                 due_date=due, days_left=(due - today).days, reminded_at=now)
    return judge


def _capa_judge(due: date, *, today: date, days: int, now: datetime) -> Judge:
    async def judge(_session: AsyncSession, capa: Capa) -> EventData | None:
        if (capa.status not in OPEN_STATES or capa.due_date != due
                or not due_soon(due, today, days)):
            return None
        return CapaDueSoon(**event_fields(capa), status=capa.status, due_date=due,
                           days_left=(due - today).days, reminded_at=now)
    return judge


def _effectiveness_judge(check_date: date, *, today: date, now: datetime) -> Judge:
    async def judge(session: AsyncSession, capa: Capa) -> EventData | None:
        if (capa.status not in OPEN_STATES or capa.effectiveness_check_date != check_date
                or not capa.effectiveness_criteria or not check_has_come(check_date, today)):
            return None
        recorded = (await session.exec(select(EffectivenessVerification.id).where(
            col(EffectivenessVerification.capa_id) == capa.id,
            col(EffectivenessVerification.cycle) == capa.reopen_count).limit(1))).first()
        if recorded is not None:
            return None
        return CapaEffectivenessCheckDue(**event_fields(capa), status=capa.status,
                                         check_date=check_date,
                                         criteria=capa.effectiveness_criteria, reminded_at=now)
    return judge


async def send_reminders(sessions: SessionFactory, *, now: datetime, days: int,
                         batch_size: int = 500) -> ReminderReport:
    """Emit each reminder that has come and was not sent yet (see the module doc)."""
    today = utc_day(now)
    first, last = reminder_window(today, days)
    open_states = list(OPEN_STATES)
    async with sessions() as session:
        actions = (await session.exec(
            select(col(ActionRow.id), col(ActionRow.capa_id), col(ActionRow.due_date))
            .join(Capa, col(Capa.id) == col(ActionRow.capa_id))
            .where(col(ActionRow.status).in_(UNFINISHED), col(Capa.status).in_(open_states),
                   col(ActionRow.due_date) >= first, col(ActionRow.due_date) <= last,
                   _not_reminded(ReminderKind.action_due, col(ActionRow.id),
                                 col(ActionRow.due_date)))
            .order_by(col(ActionRow.due_date), col(ActionRow.id)).limit(batch_size))).all()
        capas = (await session.exec(
            select(col(Capa.id), col(Capa.due_date))
            .where(col(Capa.status).in_(open_states), col(Capa.due_date) >= first,
                   col(Capa.due_date) <= last,
                   _not_reminded(ReminderKind.capa_due, col(Capa.id), col(Capa.due_date)))
            .order_by(col(Capa.due_date), col(Capa.id)).limit(batch_size))).all()
        verified = select(EffectivenessVerification.id).where(
            col(EffectivenessVerification.capa_id) == col(Capa.id),
            col(EffectivenessVerification.cycle) == col(Capa.reopen_count)).exists()
        checks = (await session.exec(
            select(col(Capa.id), col(Capa.effectiveness_check_date))
            .where(col(Capa.status).in_(open_states),
                   and_(col(Capa.effectiveness_check_date).is_not(None),
                        col(Capa.effectiveness_check_date) <= today),
                   ~verified,
                   _not_reminded(ReminderKind.effectiveness_due, col(Capa.id),
                                 col(Capa.effectiveness_check_date)))
            .order_by(col(Capa.effectiveness_check_date), col(Capa.id))
            .limit(batch_size))).all()
    sent_actions = sent_capas = sent_checks = 0
    for action_id, capa_id, due in actions:
        sent_actions += await _remind(
            sessions, kind=ReminderKind.action_due, capa_id=capa_id, record_id=action_id,
            due=due, judge=_action_judge(action_id, due, today=today, days=days, now=now),
            now=now)
    for capa_id, due in capas:
        sent_capas += await _remind(
            sessions, kind=ReminderKind.capa_due, capa_id=capa_id, record_id=capa_id, due=due,
            judge=_capa_judge(due, today=today, days=days, now=now), now=now)
    for capa_id, check_date in checks:
        if check_date is None:
            continue  # excluded by the query; keeps the type checker informed
        sent_checks += await _remind(
            sessions, kind=ReminderKind.effectiveness_due, capa_id=capa_id, record_id=capa_id,
            due=check_date, judge=_effectiveness_judge(check_date, today=today, now=now),
            now=now)
    report = ReminderReport(actions=sent_actions, capas=sent_capas,
                            effectiveness_checks=sent_checks)
    if sent_actions or sent_capas or sent_checks:
        log.info("reminders: %d actions, %d CAPAs, %d effectiveness checks", sent_actions,
                 sent_capas, sent_checks)
    return report
