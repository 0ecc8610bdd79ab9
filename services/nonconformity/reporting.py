"""Use cases that create nonconformities from people: support reports and audit findings."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared import idempotency
from shared.db import SessionFactory, transaction, utcnow
from shared.events.nonconformity import NonconformityReported

from .domain import FINDING_SEVERITY, EscalationPolicy, Source
from .escalation import apply_policy
from .models import Nonconformity, NonconformityTag, Occurrence, ReceivedWebhook
from .records import add_history, allocate_numbers, emit, recurrence_key
from .schemas import AuditFindingCreate, NonconformityCreate, NonconformityPublic


@dataclass(frozen=True)
class Reported:
    nonconformity: NonconformityPublic
    created: bool  # False: the same source + external_ref was reported before


async def report_nonconformity(*, sessions: SessionFactory, policy: EscalationPolicy,
                               request: NonconformityCreate, reported_by: str,
                               claim: idempotency.Claim | None = None) -> Reported:
    # Two concurrent reports of one ticket: the loser hits the unique
    # constraint and, on its second pass, finds and returns the winner's NC.
    for attempt in (1, 2):
        try:
            async with transaction(sessions) as session:
                existing = await _by_external_ref(session, request.source, request.external_ref)
                if existing is not None:
                    result = Reported(NonconformityPublic.model_validate(existing), created=False)
                    await idempotency.complete(session, claim, status=200,
                                               body=result.nonconformity.model_dump(mode="json"))
                    return result
                nc = await create_nonconformity(
                    session, policy=policy, reported_by=reported_by,
                    fields=request.model_dump(mode="json", exclude={"occurred_at"})
                    | {"occurred_at": request.occurred_at})
                result = Reported(NonconformityPublic.model_validate(nc), created=True)
                await idempotency.complete(session, claim, status=201,
                                           body=result.nonconformity.model_dump(mode="json"))
                return result
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def record_audit_finding(*, sessions: SessionFactory, policy: EscalationPolicy,
                               audit_ref: str, request: AuditFindingCreate, reported_by: str,
                               claim: idempotency.Claim | None = None) -> NonconformityPublic:
    async with transaction(sessions) as session:
        nc = await create_nonconformity(session, policy=policy, reported_by=reported_by, fields={
            "title": request.title, "description": request.evidence,
            "source": Source.audit.value, "severity": FINDING_SEVERITY[request.finding_type],
            "category": request.category, "affected_item": request.process_audited,
            "external_ref": None,
            "reporter": request.auditor, "tags": request.tags, "audit_ref": audit_ref,
            "clause": request.clause, "finding_type": request.finding_type.value,
            "evidence": request.evidence, "auditor": request.auditor,
            "process_audited": request.process_audited,
        })
        public = NonconformityPublic.model_validate(nc)
        await idempotency.complete(session, claim, status=201, body=public.model_dump(mode="json"))
        return public


async def create_nonconformity(session: AsyncSession, *, policy: EscalationPolicy,
                               reported_by: str, fields: dict[str, Any],
                               number: str | None = None) -> Nonconformity:
    """Insert one NC with its first occurrence, tags, history, ``reported`` event,
    and the escalation policy's verdict."""
    now = utcnow()
    started = fields.pop("started_at", None) or fields.get("occurred_at") or now
    nc = Nonconformity(
        **fields, number=number or (await allocate_numbers(session, 1))[0],
        reported_by=reported_by, first_seen=started, last_seen=now,
        recurrence_key=recurrence_key(fields.get("category"), fields.get("affected_item")),
        created_at=now, updated_at=now)
    session.add(nc)
    await session.flush()
    for tag in dict.fromkeys(nc.tags):
        session.add(NonconformityTag(nonconformity_id=nc.id, tag=tag))
    session.add(Occurrence(nonconformity_id=nc.id, fingerprint=nc.fingerprint,
                           started_at=started))
    add_history(session, nc, actor=reported_by, action="reported",
                changes={"severity": nc.severity, "source": nc.source})
    emit(session, nc, NonconformityReported, description=nc.description,
         external_ref=nc.external_ref, fingerprint=nc.fingerprint, reported_by=reported_by,
         reported_at=now)
    await session.flush()
    await apply_policy(session, nc, policy=policy, now=now, actor=reported_by, recurred=False)
    return nc


async def _by_external_ref(session: AsyncSession, source: str,
                           external_ref: str | None) -> Nonconformity | None:
    if external_ref is None:
        return None
    return (await session.exec(select(Nonconformity).where(
        Nonconformity.source == source, Nonconformity.external_ref == external_ref))).first()


class WebhookReplayed(Exception):
    """A Standard Webhooks id this source already delivered."""


async def report_from_webhook(*, sessions: SessionFactory, policy: EscalationPolicy,
                              source_name: str, webhook_id: str,
                              fields: dict[str, Any]) -> Reported:
    async with transaction(sessions) as session:
        session.add(ReceivedWebhook(source=source_name, webhook_id=webhook_id,
                                    received_at=utcnow()))
        try:
            await session.flush()
        except IntegrityError as exc:
            raise WebhookReplayed(webhook_id) from exc
        existing = await _by_external_ref(session, fields["source"], fields.get("external_ref"))
        if existing is not None:
            return Reported(NonconformityPublic.model_validate(existing), created=False)
        nc = await create_nonconformity(session, policy=policy, reported_by=source_name,
                                        fields=dict(fields))
        return Reported(NonconformityPublic.model_validate(nc), created=True)
