"""Reminders and overdue notices of SCARs, run by the CAPA service's reminder
and overdue jobs beside those of actions (service.reminders, service.actions).

The same once-only rules: a reminder's key (``scar_due``, the SCAR, its due
date) is inserted in the transaction that records its event; the overdue
notice is stamped on the row by a conditional update. A rejected SCAR with a
new due date is reminded and can fall overdue again. The replica that claimed a
reminder or stamped a notice also e-mails the supplier's contact, after its
commit (service.scar_notices); the others send nothing.
"""

import logging
from datetime import datetime

from sqlalchemy import update
from sqlmodel import col, select

from shared.db import SessionFactory, transaction
from shared.events.suppliers import ScarDueSoon, ScarOverdue
from shared.mail import SmtpSettings
from shared.outbox import record_event

from ..domain.scar import AWAITING_SUPPLIER
from ..domain.schedule import ReminderKind, due_soon, reminder_window, utc_day
from ..supplier_models import Scar
from .common import SYSTEM, load_capa, record_change
from .reminders import _claim_key, _not_reminded
from .scar_notices import ScarNotice, mail_withdrawals, send_notice
from .scars import named_scar_fields

log = logging.getLogger(__name__)
SERVICE = "capa"
WAITING = [s.value for s in AWAITING_SUPPLIER]


async def remind_scars(sessions: SessionFactory, *, now: datetime, days: int,
                       batch_size: int = 500, smtp: SmtpSettings | None = None) -> int:
    today = utc_day(now)
    first, last = reminder_window(today, days)
    async with sessions() as session:
        due = (await session.exec(
            select(col(Scar.id), col(Scar.capa_id), col(Scar.due_date))
            .where(col(Scar.status).in_(WAITING), col(Scar.due_date) >= first,
                   col(Scar.due_date) <= last,
                   _not_reminded(ReminderKind.scar_due, col(Scar.id), col(Scar.due_date)))
            .order_by(col(Scar.due_date), col(Scar.id)).limit(batch_size))).all()
    sent = 0
    for scar_id, capa_id, due_date in due:
        async with transaction(sessions) as session:
            capa = await load_capa(session, capa_id, for_update=True)
            scar = await session.get(Scar, scar_id)
            if (scar is None or scar.status not in AWAITING_SUPPLIER
                    or scar.due_date != due_date or not due_soon(due_date, today, days)
                    or not await _claim_key(session, ReminderKind.scar_due, scar_id, due_date,
                                            capa_id, now)):
                continue
            await record_change(session, capa_id=capa_id, actor=SYSTEM, action="reminded",
                                at=now, after={"kind": ReminderKind.scar_due.value,
                                               "record_id": scar_id, "due_date": due_date})
            record_event(session, service=SERVICE, data=ScarDueSoon(
                **await named_scar_fields(session, capa, scar), status=scar.status,
                due_date=due_date, days_left=(due_date - today).days, reminded_at=now))
            notice = ScarNotice.of("due_soon", scar)
        sent += 1
        await send_notice(smtp, notice)
    if sent:
        log.info("reminders: %d SCARs", sent)
    return sent


async def detect_overdue_scars(sessions: SessionFactory, *, now: datetime,
                               batch_size: int = 500, smtp: SmtpSettings | None = None) -> int:
    today = utc_day(now)
    async with sessions() as session:
        due = (await session.exec(
            select(col(Scar.id), col(Scar.capa_id))
            .where(col(Scar.status).in_(WAITING), col(Scar.due_date) < today,
                   col(Scar.overdue_notified_at).is_(None))
            .order_by(col(Scar.due_date)).limit(batch_size))).all()
    found = 0
    for scar_id, capa_id in due:
        async with transaction(sessions) as session:
            capa = await load_capa(session, capa_id, for_update=True)
            stamped = await session.exec(
                update(Scar).where(col(Scar.id) == scar_id,
                                   col(Scar.overdue_notified_at).is_(None),
                                   col(Scar.status).in_(WAITING), col(Scar.due_date) < today)
                .values(overdue_notified_at=now))
            if stamped.rowcount != 1:
                continue
            scar = await session.get(Scar, scar_id)
            if scar is None:
                continue
            await session.refresh(scar)
            await record_change(session, capa_id=capa_id, actor=SYSTEM, action="scar_overdue",
                                at=now, after={"scar_id": scar_id, "due_date": scar.due_date,
                                               "status": scar.status})
            record_event(session, service=SERVICE, data=ScarOverdue(
                **await named_scar_fields(session, capa, scar), status=scar.status,
                due_date=scar.due_date, detected_at=now))
            notice = ScarNotice.of("overdue", scar)
        found += 1
        await send_notice(smtp, notice)
    if found:
        log.info("overdue: %d SCARs notified", found)
    # SCARs withdrawn with their CAPA (closed or cancelled) are told here.
    await mail_withdrawals(sessions, smtp, now=now)
    return found
