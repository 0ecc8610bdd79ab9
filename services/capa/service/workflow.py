"""Moving a CAPA through its workflow, closing it with a lesson learned, and
editing its planning fields."""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.auth import Principal
from shared.db import SessionFactory, transaction
from shared.errors import Conflict, Invalid
from shared.events.capa import (
    CapaCancelled,
    CapaClosed,
    CapaReopened,
    CapaStatusChanged,
)
from shared.events.lessons import LessonPublished
from shared.outbox import record_event
from shared.versions import check_if_match

from ..domain import ActionStatus, CapaStatus, EffectivenessResult, risk_score
from ..domain.root_cause import AnalysisStatus
from ..domain.signatures import SignedMove, signed_move_of
from ..domain.workflow import FINISHED_ACTION, CapaFacts, check_transition, next_steps
from ..models import (
    ActionRow,
    Capa,
    EffectivenessVerification,
    RootCauseAnalysis,
    SignatureRow,
)
from ..models_lessons import Lesson
from ..request_rules import SIGNED_TARGETS
from ..schemas import (
    CapaPublic,
    CapaUpdate,
    LessonInput,
    TransitionOption,
    TransitionRequest,
)
from .common import (
    capa_view,
    event_fields,
    linked_nonconformities,
    load_capa,
    record_change,
    require_open,
    touch,
)
from .scars import revoke_open_scars
from .signing import SigningPolicy, admit, reference, sign, signatures_of
from .suppliers import require_supplier

SERVICE = "capa"


async def latest_verification(session: AsyncSession, capa: Capa
                              ) -> EffectivenessVerification | None:
    """The last verification of the current cycle (results before a reopen do not count)."""
    return (await session.exec(
        select(EffectivenessVerification)
        .where(col(EffectivenessVerification.capa_id) == capa.id,
               col(EffectivenessVerification.cycle) == capa.reopen_count)
        .order_by(col(EffectivenessVerification.verified_at).desc()).limit(1))).first()


async def gather_facts(session: AsyncSession, capa: Capa) -> CapaFacts:
    analysis = await session.get(RootCauseAnalysis, capa.id)
    counts = dict((await session.exec(
        select(ActionRow.status, func.count()).where(col(ActionRow.capa_id) == capa.id)
        .group_by(col(ActionRow.status)))).all())
    active = sum(n for status, n in counts.items() if status != ActionStatus.cancelled)
    unfinished = sum(n for status, n in counts.items() if status not in FINISHED_ACTION)
    check = await latest_verification(session, capa)
    this_cycle: int | None = None
    if capa.reopen_count:
        # The cycle began when the last cycle's verification failed.
        began = (await session.exec(
            select(func.max(EffectivenessVerification.verified_at)).where(
                col(EffectivenessVerification.capa_id) == capa.id,
                col(EffectivenessVerification.cycle) == capa.reopen_count - 1))).one()
        this_cycle = (await session.exec(
            select(func.count()).select_from(ActionRow).where(
                col(ActionRow.capa_id) == capa.id,
                col(ActionRow.status) != ActionStatus.cancelled,
                col(ActionRow.created_at) > began))).one() if began else 0
    return CapaFacts(
        root_cause_submitted=analysis is not None
        and analysis.status == AnalysisStatus.submitted,
        action_count=active, unfinished_action_count=unfinished,
        actions_this_cycle=this_cycle,
        effectiveness=EffectivenessResult(check.result) if check else None)


async def transition_options(sessions: SessionFactory, *, capa_id: UUID,
                             principal: Principal) -> list[TransitionOption]:
    async with sessions() as session:
        capa = await load_capa(session, capa_id)
        facts = await gather_facts(session, capa)
    return [TransitionOption(to=step.to, roles=list(step.roles),
                             you_may=principal.holds_any(step.roles),
                             ready=step.blocked_by is None, blocked_by=step.blocked_by,
                             needs_reason=step.needs_reason, needs_lesson=step.needs_lesson)
            for step in next_steps(CapaStatus(capa.status), facts)]


async def transition_capa(sessions: SessionFactory, *, capa_id: UUID,
                          request: TransitionRequest, principal: Principal,
                          now: datetime, signing: SigningPolicy | None = None) -> CapaPublic:
    async with transaction(sessions) as session:
        capa = await load_capa(session, capa_id, for_update=True)
        current = CapaStatus(capa.status)
        facts = await gather_facts(session, capa)
        check_transition(current, request.to, facts=facts, holds_any=principal.holds_any,
                         reason=request.reason)
        if request.lesson is not None and request.to is not CapaStatus.closed:
            raise Invalid("A lesson is published when a CAPA closes; leave it out of other "
                          "moves.", [("lesson", f"not used when moving to '{request.to}'")])
        if request.to is CapaStatus.closed and request.lesson is None:
            raise Invalid("Closing publishes a lesson learned; send one.",
                          [("lesson", "Give what_to_do_differently (and tags) for the "
                                      "lessons-learned record.")])
        move = signed_move_of(current, request.to)
        if move is None and request.signature is not None and request.to in SIGNED_TARGETS:
            # A signable target, but not from this state: the stored state decides (409).
            raise Conflict(f"Moving from '{current}' to '{request.to}' is not signed; leave "
                           "the signature out.")
        admitted = admit(signing or SigningPolicy(), move, request.signature, principal, now,
                         moving=f"Moving to '{request.to}'")
        capa.status = request.to
        touch(capa, now)
        fields = event_fields(capa)
        ncs = await linked_nonconformities(session, capa.id)
        signature: SignatureRow | None = None
        # The trail's before/after: the status, and what else the move changed.
        before: dict[str, Any] = {"status": current}
        after: dict[str, Any] = {"status": capa.status}
        if current is CapaStatus.verifying and request.to is CapaStatus.investigating:
            side_effects = await _reopen(session, capa, principal=principal,
                                         reason=request.reason or "", now=now)
            before |= side_effects[0]
            after |= side_effects[1]
        elif request.to is CapaStatus.cancelled:
            capa.cancelled_at, capa.cancel_reason = now, request.reason
            record_event(session, service=SERVICE, data=CapaCancelled(
                **fields, nonconformity_ids=ncs, reason=request.reason or "",
                cancelled_by=principal.subject, cancelled_at=now))
        elif request.to is CapaStatus.closed:
            assert request.lesson is not None
            capa.closed_at = now
            check = await latest_verification(session, capa)
            assert check is not None  # the guard demanded an effective one
            lesson = await _lesson_row(session, capa, request.lesson, now=now)
            if admitted and move:  # the closure signs the lesson it publishes
                signature = await sign(session, move=move, admitted=admitted, capa=capa,
                                       record_id=str(capa.id), principal=principal, now=now)
            record_event(session, service=SERVICE, data=CapaClosed(
                capa_id=capa.id, number=capa.number, nonconformity_ids=ncs,
                effectiveness_result=check.result, effectiveness_evidence=check.evidence,
                closed_by=principal.subject, closed_at=now, title=capa.title,
                severity=capa.severity, reopen_count=capa.reopen_count,
                signature=reference(signature)))
            _publish_lesson(session, lesson)
        elif admitted and move is SignedMove.root_cause_approval:
            analysis = await session.get(RootCauseAnalysis, capa.id)
            assert analysis is not None  # the guard demanded a submitted one
            signature = await sign(session, move=move, admitted=admitted, capa=capa,
                                   record_id=str(analysis.submissions), principal=principal,
                                   now=now)
        if request.to in (CapaStatus.closed, CapaStatus.cancelled):
            await revoke_open_scars(session, capa, actor=principal.subject,
                                    reason=f"The CAPA was {request.to.value}.", now=now)
        await record_change(session, capa_id=capa.id, actor=principal.subject,
                            action="status_changed", at=now, before=before, after=after,
                            reason=request.reason)
        record_event(session, service=SERVICE, data=CapaStatusChanged(
            **fields, title=capa.title, from_status=current, to_status=capa.status,
            reason=request.reason, changed_by=principal.subject, changed_at=now,
            signature=reference(signature)))
        view = capa_view(capa, ncs, now.date())
        view.signatures = await signatures_of(session, capa.id)
        return view


async def _reopen(session: AsyncSession, capa: Capa, *, principal: Principal, reason: str,
                  now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    """A new cycle; returns the fields it changed besides the status (before, after)
    for the audit entry, which would otherwise show only the status."""
    before: dict[str, Any] = {"reopen_count": capa.reopen_count}
    capa.reopen_count += 1
    after: dict[str, Any] = {"reopen_count": capa.reopen_count}
    # The analysis missed something: it must be revised and submitted again.
    analysis = await session.get(RootCauseAnalysis, capa.id)
    if analysis is not None:
        before["root_cause_status"] = analysis.status
        after["root_cause_status"] = AnalysisStatus.draft
        analysis.status = AnalysisStatus.draft
        analysis.version += 1
        analysis.updated_at = now
    record_event(session, service=SERVICE, data=CapaReopened(
        **event_fields(capa), reason=reason, reopen_count=capa.reopen_count,
        reopened_by=principal.subject, reopened_at=now))
    return before, after


async def _lesson_row(session: AsyncSession, capa: Capa, lesson: LessonInput, *,
                      now: datetime) -> Lesson:
    """The lessons-learned record of a closing CAPA, added to the session."""
    analysis = await session.get(RootCauseAnalysis, capa.id)
    assert analysis is not None and analysis.root_cause and analysis.cause_category
    actions = (await session.exec(
        select(ActionRow).where(col(ActionRow.capa_id) == capa.id,
                                col(ActionRow.status) == ActionStatus.done)
        .order_by(col(ActionRow.created_at)))).all()
    descriptions = [f"{a.kind}: {a.description}" for a in actions]
    problem = analysis.problem_statement or capa.title
    tags = sorted(set(lesson.tags))
    row = Lesson(capa_id=capa.id, capa_number=capa.number, title=capa.title, problem=problem,
                 root_cause=analysis.root_cause, cause_category=analysis.cause_category,
                 actions=descriptions, what_to_do_differently=lesson.what_to_do_differently,
                 tags=tags, tag_index="|" + "|".join(tags) + "|",
                 search_text=" ".join([capa.number, capa.title, problem, analysis.root_cause,
                                       *descriptions, lesson.what_to_do_differently,
                                       *tags]).lower(),
                 published_at=now)
    session.add(row)
    return row


def _publish_lesson(session: AsyncSession, row: Lesson) -> None:
    record_event(session, service=SERVICE, data=LessonPublished(
        lesson_id=row.id, capa_id=row.capa_id, title=row.title, problem=row.problem,
        root_cause=row.root_cause, cause_category=row.cause_category,
        actions=row.actions, what_to_do_differently=row.what_to_do_differently,
        tags=row.tags, published_at=row.published_at, capa_number=row.capa_number))


async def update_capa(sessions: SessionFactory, *, capa_id: UUID, request: CapaUpdate,
                      if_match: str | None, principal: Principal, now: datetime) -> CapaPublic:
    async with transaction(sessions) as session:
        capa = await load_capa(session, capa_id, for_update=True)
        check_if_match(if_match, capa.version)
        require_open(capa, "editing it")
        changes = request.model_dump(exclude_unset=True, exclude={"reason"})
        if changes.get("supplier_code"):
            await require_supplier(session, changes["supplier_code"])  # 409 if unregistered
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        for name, value in changes.items():
            if value is None and name in ("title", "likelihood", "due_date"):
                raise Invalid("These fields cannot be emptied.", [(name, "may not be null")])
            if getattr(capa, name) != value:
                before[name], after[name] = getattr(capa, name), value
                setattr(capa, name, value)
        if "likelihood" in after:
            # Both sides, so the trail says the risk's old value too (audit changes).
            before["risk_score"] = capa.risk_score
            capa.risk_score = risk_score(capa.severity, capa.likelihood)
            after["risk_score"] = capa.risk_score
        if "due_date" in after:
            capa.overdue_notified_at = None  # a new due date may become overdue again
        if after:
            touch(capa, now)
            await record_change(session, capa_id=capa.id, actor=principal.subject,
                                action="updated", at=now, before=before, after=after,
                                reason=request.reason)
        return capa_view(capa, await linked_nonconformities(session, capa.id), now.date())
