"""SCARs from the CAPA's side: send one to a supplier's contact, send its link
again, judge the supplier's response, revoke it, read them.

The response link's token is made here and leaves only in the e-mail
(service.scar_mail); the row keeps its hash. Every change is an audit entry
on the CAPA's trail and a ``scar.*`` event, neither with the token.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.auth import Principal
from shared.db import SessionFactory, transaction
from shared.errors import Conflict, Invalid, NotFound
from shared.events.suppliers import ScarAccepted, ScarRejected, ScarRevoked, ScarSent
from shared.evidence.store import attachments_of
from shared.mail import SmtpSettings
from shared.outbox import record_event

from ..domain.scar import (
    AWAITING_SUPPLIER,
    ScarMove,
    check_due_date,
    check_scar_supplier,
    issue_token,
    link_expiry,
    next_status,
)
from ..domain.supplier import same_address
from ..models import Capa
from ..supplier_models import Scar, ScarCounter
from ..supplier_schemas import (
    ScarCreate,
    ScarDecision,
    ScarPublic,
    ScarResponseContent,
    ScarRevocation,
)
from .common import event_fields, load_capa, record_change, require_open
from .scar_mail import LinkMail, response_link, send_link
from .scar_notices import ScarNotice, mail_withdrawals, send_notice
from .scar_views import engineer_evidence_view, submitted_only
from .suppliers import find_supplier, require_supplier

SERVICE = "capa"


@dataclass(frozen=True)
class LinkPolicy:
    """How links are made and sent (from the settings)."""

    smtp: SmtpSettings | None
    ui_base_url: str
    valid_days: int


def scar_fields(capa: Capa, scar: Scar, supplier_name: str | None = None) -> dict[str, Any]:
    return {**event_fields(capa), "scar_id": scar.id, "scar_number": scar.number,
            "supplier_code": scar.supplier_code, "title": capa.title,
            "supplier_name": supplier_name}


async def named_scar_fields(session: AsyncSession, capa: Capa, scar: Scar) -> dict[str, Any]:
    """``scar_fields`` with the supplier's registered name: e-mails name the supplier
    as people know it, not by its code."""
    supplier = await find_supplier(session, scar.supplier_code)
    return scar_fields(capa, scar, supplier.name if supplier else None)


def scar_view(scar: Scar, today: Any, evidence: list[Any], *,
              email: tuple[str, str | None] | None = None) -> ScarPublic:
    return ScarPublic(
        id=scar.id, number=scar.number, capa_id=scar.capa_id,
        supplier_code=scar.supplier_code, contact_name=scar.contact_name,
        contact_email=scar.contact_email, request=scar.request, due_date=scar.due_date,
        status=scar.status, overdue=scar.status in AWAITING_SUPPLIER and scar.due_date < today,
        link_expires_at=scar.link_expires_at,
        response=(ScarResponseContent(**scar.submitted_response)
                  if scar.submitted_response else None),
        submissions=scar.submissions, responded_at=scar.responded_at,
        decided_by=scar.decided_by, decided_at=scar.decided_at,
        decision_reason=scar.decision_reason, sent_by=scar.sent_by, sent_at=scar.sent_at,
        evidence=evidence, version=scar.version,
        email_status=email[0] if email else None,  # type: ignore[arg-type]
        email_error=email[1] if email else None)


async def _next_number(session: AsyncSession, year: int) -> str:
    increment = (update(ScarCounter).where(col(ScarCounter.year) == year)
                 .values(last_sequence=col(ScarCounter.last_sequence) + 1)
                 .returning(col(ScarCounter.last_sequence)))
    sequence = (await session.exec(increment)).scalar_one_or_none()
    if sequence is None:
        try:
            async with session.begin_nested():
                session.add(ScarCounter(year=year, last_sequence=1))
            sequence = 1
        except IntegrityError:
            sequence = (await session.exec(increment)).scalar_one()
    return f"SCAR-{year}-{sequence:04d}"


async def _load_scar(session: AsyncSession, scar_id: UUID) -> tuple[Scar, Capa]:
    """The SCAR and its CAPA, the CAPA locked first (the order every writer of the
    CAPA's trail takes), then the SCAR."""
    scar = await session.get(Scar, scar_id)
    if scar is None:
        raise NotFound(f"There is no SCAR with id {scar_id}.")
    capa = await load_capa(session, scar.capa_id, for_update=True)
    await session.refresh(scar, with_for_update=True)
    return scar, capa


def _link_mail(scar: Scar, token: str, policy: LinkPolicy) -> LinkMail:
    return LinkMail(scar_id=str(scar.id), number=scar.number, to=scar.contact_email,
                    contact_name=scar.contact_name, request=scar.request,
                    due_date=scar.due_date, expires_at=scar.link_expires_at,
                    link=response_link(policy.ui_base_url, token))


async def send_scar(sessions: SessionFactory, *, capa_id: UUID, request: ScarCreate,
                    principal: Principal, policy: LinkPolicy, now: datetime) -> ScarPublic:
    async with transaction(sessions) as session:
        capa = await load_capa(session, capa_id, for_update=True)
        require_open(capa, "sending a SCAR")
        supplier = await require_supplier(session, request.supplier_code)
        check_scar_supplier(capa.supplier_code, supplier.code)
        contact = next((c for c in supplier.contacts
                        if same_address(c["email"], request.contact_email)), None)
        if contact is None:
            # The register's state, not the request's form: a 409 like an unknown supplier.
            raise Conflict(f"{request.contact_email} is not a contact of {supplier.code}; "
                           "pick one of its registered contacts (a quality manager adds "
                           "contacts).", title="Unknown contact", field="contact_email")
        check_due_date(request.due_date, now.date())
        token = issue_token()
        scar = Scar(number=await _next_number(session, now.year), capa_id=capa_id,
                    supplier_code=supplier.code, contact_name=contact["name"],
                    contact_email=contact["email"], request=request.request,
                    due_date=request.due_date, token_digest=token.digest,
                    link_expires_at=link_expiry(now, valid_days=policy.valid_days,
                                                due_date=request.due_date),
                    sent_by=principal.subject, sent_at=now, updated_at=now)
        session.add(scar)
        await record_change(session, capa_id=capa_id, actor=principal.subject,
                            action="scar_sent", at=now,
                            after={"scar_id": scar.id, "number": scar.number,
                                   "supplier_code": scar.supplier_code,
                                   "contact_email": scar.contact_email,
                                   "due_date": scar.due_date, "request": scar.request})
        record_event(session, service=SERVICE, data=ScarSent(
            **scar_fields(capa, scar, supplier.name), due_date=scar.due_date,
            sent_by=principal.subject, sent_at=now))
    # After the commit: a SCAR whose mail fails exists, says so, and can be sent again.
    email = await send_link(policy.smtp, _link_mail(scar, token.value, policy))
    return scar_view(scar, now.date(), [], email=email)


async def resend_link(sessions: SessionFactory, *, scar_id: UUID, principal: Principal,
                      policy: LinkPolicy, now: datetime) -> ScarPublic:
    """A new link (a new token) e-mailed again; the earlier link stops working."""
    async with transaction(sessions) as session:
        scar, capa = await _load_scar(session, scar_id)
        if scar.status not in AWAITING_SUPPLIER:
            raise Conflict(f"{scar.number} is {scar.status}; a new link is sent while the "
                           "supplier has to answer (sent or rejected).",
                           status_now=str(scar.status))
        token = issue_token()
        scar.token_digest = token.digest
        scar.link_expires_at = link_expiry(now, valid_days=policy.valid_days,
                                           due_date=scar.due_date)
        scar.version += 1
        scar.updated_at = now
        await record_change(session, capa_id=capa.id, actor=principal.subject,
                            action="scar_link_sent_again", at=now,
                            after={"scar_id": scar.id, "number": scar.number,
                                   "link_expires_at": scar.link_expires_at})
        record_event(session, service=SERVICE, data=ScarSent(
            **await named_scar_fields(session, capa, scar), due_date=scar.due_date,
            sent_by=principal.subject, sent_at=now, resent=True))
        evidence = await engineer_evidence(session, scar)
    email = await send_link(policy.smtp, _link_mail(scar, token.value, policy))
    return scar_view(scar, now.date(), evidence, email=email)


async def decide_scar(sessions: SessionFactory, *, scar_id: UUID, request: ScarDecision,
                      principal: Principal, now: datetime,
                      smtp: SmtpSettings | None = None) -> ScarPublic:
    if request.decision == "reject" and not request.reason:
        raise Invalid("A rejection says why, so the supplier can do better.",
                      [("reason", "Say what the response lacks.")])
    if request.decision == "accept" and request.due_date is not None:
        raise Invalid("A new due date goes with a rejection only.",
                      [("due_date", "Leave it out when accepting.")])
    async with transaction(sessions) as session:
        scar, capa = await _load_scar(session, scar_id)
        move = ScarMove.accept if request.decision == "accept" else ScarMove.reject
        status = next_status(scar.status, move)
        if request.due_date is not None and request.due_date != scar.due_date:
            check_due_date(request.due_date, now.date())
            scar.due_date = request.due_date
            scar.overdue_notified_at = None
        before = {"status": scar.status}
        scar.status, scar.decided_by, scar.decided_at = status, principal.subject, now
        scar.decision_reason = request.reason
        scar.version += 1
        scar.updated_at = now
        await record_change(session, capa_id=capa.id, actor=principal.subject,
                            action=f"scar_{status}", at=now,
                            before={"scar_id": scar.id, **before},
                            after={"scar_id": scar.id, "status": status,
                                   "due_date": scar.due_date}, reason=request.reason)
        fields = await named_scar_fields(session, capa, scar)
        if status == "accepted":
            record_event(session, service=SERVICE, data=ScarAccepted(
                **fields, decided_by=principal.subject, decided_at=now, reason=request.reason))
        else:
            # Rejected goes back to the supplier: the link lives at least a week past
            # the (new) due date again.
            scar.link_expires_at = max(scar.link_expires_at, link_expiry(
                now, valid_days=1, due_date=scar.due_date))
            record_event(session, service=SERVICE, data=ScarRejected(
                **fields, decided_by=principal.subject, decided_at=now,
                reason=request.reason or "", due_date=scar.due_date))
        view = scar_view(scar, now.date(), await engineer_evidence(session, scar))
    if view.status == "rejected":
        # The supplier learns it, with the reason, after the commit (scar_notices).
        await send_notice(smtp, ScarNotice.of("rejected", scar))
    return view


async def revoke_scar(sessions: SessionFactory, *, scar_id: UUID, request: ScarRevocation,
                      principal: Principal, now: datetime,
                      smtp: SmtpSettings | None = None) -> ScarPublic:
    async with transaction(sessions) as session:
        scar, capa = await _load_scar(session, scar_id)
        await _revoke(session, scar, capa, actor=principal.subject, reason=request.reason,
                      now=now)
        view = scar_view(scar, now.date(), await engineer_evidence(session, scar))
    # Claimed like the overdue job's, which mails the withdrawals of closed CAPAs.
    await mail_withdrawals(sessions, smtp, now=now, scar_id=scar_id)
    return view


async def revoke_open_scars(session: AsyncSession, capa: Capa, *, actor: str, reason: str,
                            now: datetime) -> None:
    """A CAPA that closes or is cancelled takes its open SCARs with it: their links
    die, no reminder or overdue notice follows, and no supplier writes on a
    finished record."""
    open_states = [*(s.value for s in AWAITING_SUPPLIER), "responded"]
    scars = (await session.exec(select(Scar).where(
        col(Scar.capa_id) == capa.id, col(Scar.status).in_(open_states)))).all()
    for scar in scars:
        await _revoke(session, scar, capa, actor=actor, reason=reason, now=now)


async def _revoke(session: AsyncSession, scar: Scar, capa: Capa, *, actor: str, reason: str,
                  now: datetime) -> None:
    before = scar.status
    scar.status = next_status(scar.status, ScarMove.revoke)
    scar.decided_by, scar.decided_at = actor, now
    scar.decision_reason = reason
    scar.version += 1
    scar.updated_at = now
    await record_change(session, capa_id=capa.id, actor=actor, action="scar_revoked", at=now,
                        before={"scar_id": scar.id, "status": before},
                        after={"scar_id": scar.id, "status": scar.status}, reason=reason)
    record_event(session, service=SERVICE, data=ScarRevoked(
        **await named_scar_fields(session, capa, scar), revoked_by=actor, revoked_at=now,
        reason=reason))


async def engineer_evidence(session: AsyncSession, scar: Scar) -> list[Any]:
    return [engineer_evidence_view(row) for row in submitted_only(
        scar, await attachments_of(session, parent_id=scar.id))]


async def get_scar(sessions: SessionFactory, *, scar_id: UUID, now: datetime) -> ScarPublic:
    async with sessions() as session:
        scar = await session.get(Scar, scar_id)
        if scar is None:
            raise NotFound(f"There is no SCAR with id {scar_id}.")
        return scar_view(scar, now.date(), await engineer_evidence(session, scar))


async def list_scars(sessions: SessionFactory, *, capa_id: UUID,
                     now: datetime) -> list[ScarPublic]:
    async with sessions() as session:
        await load_capa(session, capa_id)
        rows = (await session.exec(select(Scar).where(col(Scar.capa_id) == capa_id)
                                   .order_by(col(Scar.sent_at), col(Scar.id)))).all()
        return [scar_view(s, now.date(), await engineer_evidence(session, s)) for s in rows]
