"""Use cases that create nonconformities from people: support reports and audit findings."""

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared import idempotency
from shared.db import SessionFactory, transaction, utcnow

from ..domain import FINDING_SEVERITY, EscalationPolicy, Source
from ..domain.webhooks import WebhookReplayed, WebhookSource, map_payload, parse
from ..models import Nonconformity, ReceivedWebhook
from ..schemas import AuditFindingCreate, NonconformityCreate, NonconformityPublic
from .escalation import evaluate, occurrences_in_window, record_verdict
from .records import add_reported, allocate_numbers, emit_reported, new_nonconformity


@dataclass(frozen=True)
class Reported:
    nonconformity: NonconformityPublic
    created: bool  # False: the same source + external_ref was reported before


async def report_nonconformity(*, sessions: SessionFactory, policy: EscalationPolicy,
                               request: NonconformityCreate, reported_by: str,
                               claim: idempotency.Claim | None = None) -> Reported:
    # The unique (source, external_ref) constraint is the dedup: a report of a
    # known ticket fails its first INSERT (before the number counter is locked)
    # and the second pass finds and returns the NC already there. A new report,
    # the common case, so needs no lookup; two concurrent reports of one ticket
    # end the same way (the loser's INSERT waits for the winner's commit).
    for attempt in (1, 2):
        try:
            async with transaction(sessions) as session:
                existing = None if attempt == 1 else await _by_external_ref(
                    session, request.source, request.external_ref)
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
                               reported_by: str, fields: dict[str, Any]) -> Nonconformity:
    """Insert one NC with its first occurrence, tags, history, ``reported`` event,
    and the escalation policy's verdict."""
    now = utcnow()
    nc, started = new_nonconformity(fields=fields, reported_by=reported_by, number=None,
                                    now=now)
    add_reported(session, nc, started=started)
    # What needs neither the readable number nor the verdict is written first,
    # under a provisional number; the year's counter, which every other report
    # waits for until COMMIT, is taken only after it: the lock then spans the
    # count, one UPDATE and the outbox INSERT instead of the whole report.
    await session.flush()
    [number] = await allocate_numbers(session, 1)
    # Counted once the counter is ours: an earlier report of the same problem
    # that held it has committed, so the policy sees it (a burst of one problem
    # still asks for one CAPA).
    seen = await occurrences_in_window(session, nc, policy=policy, now=now)
    verdict = await evaluate(session, nc, policy=policy, seen=seen)
    nc.number = number
    emit_reported(session, nc)
    record_verdict(session, nc, verdict, now=now, actor=reported_by, recurred=False)
    return nc


async def _by_external_ref(session: AsyncSession, source: str,
                           external_ref: str | None) -> Nonconformity | None:
    if external_ref is None:
        return None
    return (await session.exec(select(Nonconformity).where(
        Nonconformity.source == source, Nonconformity.external_ref == external_ref))).first()


class _AlreadyReceived(Exception):
    pass


async def report_from_webhook(*, sessions: SessionFactory, policy: EscalationPolicy,
                              source_name: str, config: WebhookSource, body: bytes,
                              webhook_id: str) -> Reported:
    """The NC a signed webhook reports. A sender retrying a delivery (same
    ``webhook-id``, same body) is answered with that NC again, as a success:
    senders treat a 409 as a failure and would retry until they give up.

    ``body`` is the signed body (the caller checked the signature); one that
    cannot be mapped to an NC is refused (domain.webhooks.MappingFailed)."""
    fields = map_payload(source_name, config, parse(body), policy)
    body_sha256 = hashlib.sha256(body).hexdigest()
    for attempt in (1, 2):
        try:
            async with transaction(sessions) as session:
                received = ReceivedWebhook(source=source_name, webhook_id=webhook_id,
                                           received_at=utcnow(), body_sha256=body_sha256)
                session.add(received)
                try:
                    # On PostgreSQL a concurrent first delivery of this id makes this
                    # wait for its commit, then fail: answered as a replay below.
                    await session.flush()
                except IntegrityError as exc:
                    raise _AlreadyReceived from exc
                existing = await _by_external_ref(session, fields["source"],
                                                  fields.get("external_ref"))
                nc = existing or await create_nonconformity(
                    session, policy=policy, reported_by=source_name, fields=dict(fields))
                received.nonconformity_id = nc.id
                return Reported(NonconformityPublic.model_validate(nc),
                                created=existing is None)
        except _AlreadyReceived:
            return await _answer_replay(sessions, source_name, webhook_id, body_sha256)
        except IntegrityError:
            # Another delivery id of the same event won the race for its external
            # reference: the second pass finds that NC.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def _answer_replay(sessions: SessionFactory, source_name: str, webhook_id: str,
                         body_sha256: str) -> Reported:
    async with sessions() as session:
        first = await session.get(ReceivedWebhook, (source_name, webhook_id))
        if first is None or first.body_sha256 != body_sha256 or first.nonconformity_id is None:
            raise WebhookReplayed(webhook_id)
        nc = await session.get(Nonconformity, first.nonconformity_id)
        if nc is None:
            raise WebhookReplayed(webhook_id)
        return Reported(NonconformityPublic.model_validate(nc), created=False)
