"""The e-mails that keep a SCAR's supplier informed after the first one: the
response was returned (rejected, with the reason), the SCAR was withdrawn, its
due date is near, it is overdue.

Sent by this service like the link's e-mail (service.scar_mail), after the
transaction that made the change committed, and only by the transaction that
won the change: a rejection or a withdrawal is a move made once under the SCAR's
lock; a reminder's key (``scar_due``) and the overdue stamp are claimed once
(service.scar_schedule), also with several replicas. A withdrawal made by
closing or cancelling the CAPA (service.workflow, which knows no mail server)
is mailed by the overdue job: :func:`mail_withdrawals` claims the key
``scar_withdrawn`` per SCAR, so the API's own call and the job's never both mail.

No message carries a token: the supplier answers through the link of the first
e-mail (or a new one an engineer sends), so these name its expiry only.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from html import escape
from typing import Literal
from uuid import UUID

from sqlmodel import col, select

from shared.db import SessionFactory, transaction
from shared.mail import Mail, SmtpSettings, send_mail

from ..domain.schedule import ReminderKind
from ..supplier_models import Scar
from .reminders import _claim_key, _not_reminded

log = logging.getLogger(__name__)

NoticeKind = Literal["rejected", "withdrawn", "due_soon", "overdue"]
# A withdrawal older than this is not mailed by the job (one made before this
# e-mail existed, or while no mail server was configured, stays unannounced
# rather than arriving weeks late).
WITHDRAWAL_MAIL_WINDOW = timedelta(days=2)


@dataclass(frozen=True)
class ScarNotice:
    kind: NoticeKind
    scar_id: UUID
    number: str
    to: str
    contact_name: str
    request: str
    due_date: date
    link_expires_at: datetime
    reason: str | None = None

    @classmethod
    def of(cls, kind: NoticeKind, scar: Scar) -> "ScarNotice":
        return cls(kind=kind, scar_id=scar.id, number=scar.number, to=scar.contact_email,
                   contact_name=scar.contact_name, request=scar.request,
                   due_date=scar.due_date, link_expires_at=scar.link_expires_at,
                   reason=scar.decision_reason)


def _how_to_answer(notice: ScarNotice) -> str:
    return ("To answer, open the link of our first e-mail about "
            f"{notice.number}; it is valid until {notice.link_expires_at:%Y-%m-%d %H:%M} UTC. "
            "If you cannot find it, reply to this e-mail and we send a new link.")


def compose(notice: ScarNotice) -> Mail:
    """The message for ``notice``: plain text, and the same as simple HTML."""
    due = notice.due_date.isoformat()
    if notice.kind == "rejected":
        subject = f"{notice.number}: your response was returned, please revise it by {due}"
        body = [f"we reviewed your response to {notice.number} and returned it to you.",
                f"What it lacks: {notice.reason or '(no reason given)'}",
                f"Please revise and submit it again by {due}. Your draft and files are kept.",
                _how_to_answer(notice)]
    elif notice.kind == "withdrawn":
        subject = f"{notice.number} withdrawn: no response needed"
        body = [f"we withdrew our corrective action request {notice.number}; "
                "you need not answer it any more, and its link no longer opens.",
                f"Why: {notice.reason}" if notice.reason else "",
                "Thank you for your help."]
    elif notice.kind == "due_soon":
        subject = f"Reminder: {notice.number} response due {due}"
        body = [f"your response to our corrective action request {notice.number} is due "
                f"on {due}.", _how_to_answer(notice)]
    else:
        subject = f"{notice.number}: response overdue since {due}"
        body = [f"your response to our corrective action request {notice.number} was due "
                f"on {due} and has not reached us. Please submit it as soon as you can.",
                _how_to_answer(notice)]
    body = [b for b in body if b]
    request = f"Our request was:\n{notice.request}"
    text = f"Dear {notice.contact_name},\n\n" + "\n\n".join([*body, request]) + "\n"
    html = (f"<p>Dear {escape(notice.contact_name)},</p>"
            + "".join(f"<p>{escape(b)}</p>" for b in body)
            + f"<p>Our request was:</p><blockquote>{escape(notice.request)}</blockquote>")
    return Mail(to=notice.to, subject=subject, text=text, html=html)


async def send_notice(smtp: SmtpSettings | None, notice: ScarNotice) -> bool:
    """Send ``notice``; False when no mail server is configured or it failed (logged
    by the SCAR's number: the message is the supplier's business)."""
    if smtp is None:
        return False
    # Per (kind, SCAR, due date), as each is sent once; a SCAR can be returned twice
    # with one due date, and a mail store keeps one message per Message-ID, so each
    # return is a message of its own.
    key = f"scar-{notice.scar_id}-{notice.kind}-{notice.due_date.isoformat()}"
    if notice.kind == "rejected":
        key += f"-{uuid.uuid4().hex[:16]}"
    error = await send_mail(smtp, compose(notice), message_id=key)
    if error is not None:
        log.warning("the %s notice of %s was not sent: %s", notice.kind, notice.number, error)
        return False
    return True


async def mail_withdrawals(sessions: SessionFactory, smtp: SmtpSettings | None, *,
                           now: datetime, scar_id: UUID | None = None,
                           batch_size: int = 200) -> int:
    """Tell the contacts of SCARs withdrawn lately (or of ``scar_id``) that no answer
    is needed any more; each once, whoever calls."""
    if smtp is None:
        return 0
    query = select(col(Scar.id), col(Scar.capa_id), col(Scar.due_date)).where(
        col(Scar.status) == "revoked", col(Scar.decided_at) >= now - WITHDRAWAL_MAIL_WINDOW,
        _not_reminded(ReminderKind.scar_withdrawn, col(Scar.id), col(Scar.due_date)))
    if scar_id is not None:
        query = query.where(col(Scar.id) == scar_id)
    async with sessions() as session:
        rows = (await session.exec(query.order_by(col(Scar.decided_at)).limit(batch_size))
                ).all()
    sent = 0
    for row_id, capa_id, due_date in rows:
        async with transaction(sessions) as session:
            if not await _claim_key(session, ReminderKind.scar_withdrawn, row_id, due_date,
                                    capa_id, now):
                continue
            scar = await session.get(Scar, row_id)
            if scar is None:
                continue
            notice = ScarNotice.of("withdrawn", scar)
        sent += await send_notice(smtp, notice)
    return sent
