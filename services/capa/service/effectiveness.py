"""Effectiveness verification: a plan (criteria, check date) and results.

The verifier is never the CAPA owner: whoever fixed it does not judge the fix
(``domain.independence``: any owner since implementation, compared canonically).
A result is recorded on or after the plan's check date unless a manager
overrides with a reason, and the plan a result was judged against is frozen
for that cycle (``domain.schedule``).
"""

from datetime import datetime
from uuid import UUID

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.auth import Principal
from shared.db import SessionFactory, transaction
from shared.errors import Conflict, NotPermitted
from shared.events.capa import CapaEffectivenessVerified
from shared.evidence.attach import EvidencePublic
from shared.idempotency import Claim, complete
from shared.outbox import record_event

from ..domain import CapaStatus
from ..domain.independence import TrailEntry, fixed_it, owners_since_implementation
from ..domain.schedule import (
    OVERRIDE_ROLES,
    check_plan_change,
    check_verification_date,
    utc_day,
)
from ..domain.signatures import SignedMove
from ..models import AuditEntry, Capa, EffectivenessVerification, SignatureRow
from ..schemas import CapaPublic, EffectivenessPlanInput, VerificationCreate, VerificationPublic
from .common import (
    capa_view,
    event_fields,
    linked_nonconformities,
    load_capa,
    record_change,
    require_open,
    touch,
)
from .evidence import evidence_by_record
from .signing import (
    SigningPolicy,
    admit,
    reference,
    sign,
    signature_rows,
    signature_view,
)

SERVICE = "capa"


def verification_view(row: EffectivenessVerification,
                      attachments: list[EvidencePublic] | None = None,
                      signature: SignatureRow | None = None) -> VerificationPublic:
    return VerificationPublic(id=row.id, capa_id=row.capa_id, cycle=row.cycle,
                              result=row.result, evidence=row.evidence,
                              verified_by=row.verified_by, verified_at=row.verified_at,
                              check_date=row.check_date, override_by=row.override_by,
                              override_reason=row.override_reason, attachments=attachments,
                              signature=signature_view(signature) if signature else None)


async def _verified_this_cycle(session: AsyncSession, capa: Capa) -> bool:
    found = (await session.exec(
        select(EffectivenessVerification.id)
        .where(col(EffectivenessVerification.capa_id) == capa.id,
               col(EffectivenessVerification.cycle) == capa.reopen_count).limit(1))).first()
    return found is not None


async def plan_effectiveness_check(sessions: SessionFactory, *, capa_id: UUID,
                                   request: EffectivenessPlanInput, principal: Principal,
                                   now: datetime) -> CapaPublic:
    async with transaction(sessions) as session:
        capa = await load_capa(session, capa_id, for_update=True)
        require_open(capa, "planning its effectiveness check")
        check_plan_change(verified_this_cycle=await _verified_this_cycle(session, capa),
                          number=capa.number)
        before = {"criteria": capa.effectiveness_criteria,
                  "check_date": capa.effectiveness_check_date}
        capa.effectiveness_criteria = request.criteria
        capa.effectiveness_check_date = request.check_date
        touch(capa, now)
        await record_change(session, capa_id=capa_id, actor=principal.subject,
                            action="effectiveness_planned", at=now, before=before,
                            after={"criteria": request.criteria,
                                   "check_date": request.check_date})
        return capa_view(capa, await linked_nonconformities(session, capa_id), now.date())


async def _owners_since_implementation(session: AsyncSession, capa: Capa) -> set[str]:
    rows = (await session.exec(
        select(AuditEntry.action, AuditEntry.before, AuditEntry.after)
        .where(col(AuditEntry.capa_id) == capa.id,
               col(AuditEntry.action).in_(("status_changed", "updated")))
        .order_by(col(AuditEntry.sequence)))).all()
    return owners_since_implementation((TrailEntry(*row) for row in rows), capa.owner)


async def verify_effectiveness(sessions: SessionFactory, *, capa_id: UUID,
                               request: VerificationCreate, principal: Principal,
                               now: datetime, claim: Claim | None = None,
                               signing: SigningPolicy | None = None) -> VerificationPublic:
    async with transaction(sessions) as session:
        capa = await load_capa(session, capa_id, for_update=True)
        owner = fixed_it(principal.subject, await _owners_since_implementation(session, capa))
        if owner is not None:
            now_or_then = "owns" if owner == capa.owner else "owned"
            raise NotPermitted(f"{principal.subject} {now_or_then} {capa.number} while it was "
                               "implemented or verified; another verifier or manager must "
                               "check its effectiveness.")
        if capa.status != CapaStatus.verifying:
            raise Conflict(f"Effectiveness is verified once every action is done and the CAPA "
                           f"is verifying; {capa.number} is {capa.status}.",
                           status_now=str(capa.status))
        check_date = capa.effectiveness_check_date
        if not (capa.effectiveness_criteria and check_date):
            raise Conflict("Plan the effectiveness check (criteria and check date) before "
                           "recording its result.")
        early = check_verification_date(check_date=check_date, today=utc_day(now),
                                        override_reason=request.override_reason,
                                        by=principal.subject,
                                        is_manager=principal.holds_any(OVERRIDE_ROLES))
        override_by, override_reason = (early.by, early.reason) if early else (None, None)
        override = {"override_by": override_by, "override_reason": override_reason}
        admitted = admit(signing or SigningPolicy(), SignedMove.effectiveness_verification,
                         request.signature, principal, now)
        row = EffectivenessVerification(capa_id=capa_id, cycle=capa.reopen_count,
                                        result=request.result, evidence=request.evidence,
                                        verified_by=principal.subject, verified_at=now,
                                        check_date=check_date, override_by=override_by,
                                        override_reason=override_reason)
        session.add(row)
        touch(capa, now)
        await record_change(session, capa_id=capa_id, actor=principal.subject,
                            action="effectiveness_verified", at=now,
                            after={"result": request.result, "evidence": request.evidence,
                                   "cycle": row.cycle,
                                   "criteria": capa.effectiveness_criteria,
                                   "check_date": check_date, **override},
                            reason=override_reason)
        signature = await sign(session, move=SignedMove.effectiveness_verification,
                               admitted=admitted, capa=capa, record_id=str(row.id),
                               principal=principal, now=now) if admitted else None
        record_event(session, service=SERVICE, data=CapaEffectivenessVerified(
            **event_fields(capa), result=request.result, evidence=request.evidence,
            cycle=row.cycle, verified_by=principal.subject, verified_at=now,
            check_date=check_date, override_by=override_by, override_reason=override_reason,
            signature=reference(signature)))
        view = verification_view(row, signature=signature)
        await complete(session, claim, status=201, body=view.model_dump(mode="json"))
        return view


async def list_verifications(sessions: SessionFactory, *, capa_id: UUID
                             ) -> list[VerificationPublic]:
    async with sessions() as session:
        await load_capa(session, capa_id)
        rows = (await session.exec(
            select(EffectivenessVerification)
            .where(col(EffectivenessVerification.capa_id) == capa_id)
            .order_by(col(EffectivenessVerification.verified_at)))).all()
        evidence = await evidence_by_record(session, capa_id)
        signed = {s.record_id: s for s in await signature_rows(session, capa_id)
                  if s.move == SignedMove.effectiveness_verification}
        return [verification_view(r, evidence.get(r.id, []), signed.get(str(r.id)))
                for r in rows]
