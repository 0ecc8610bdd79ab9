"""Management-review meetings (ISO 9001 9.3.3): attendees, the pack, the decisions.

A decision may start its follow-up at once: open a CAPA or add an action to an
open CAPA. Both go through the usual use cases (``create_capa``,
``add_action_in``) in the transaction that records the meeting, so the CAPA's
number, audit trail and events are the ordinary ones, and either the meeting
with all its follow-ups is recorded or nothing is. The CAPA's audit trail gets
an entry naming the review and the decision, linking the loop back.
"""

from datetime import date, datetime
from uuid import UUID

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.auth import Principal
from shared.db import SessionFactory, transaction
from shared.errors import NotFound
from shared.events.review import ManagementReviewRecorded, ReviewDecisionMade
from shared.idempotency import Claim, complete
from shared.outbox import record_event
from shared.pagination import TimeKeyset

from ..domain import ActionStatus, CapaKind
from ..domain.review_meeting import check_meeting
from ..models import Capa
from ..models_review import ManagementReviewMeeting, ReviewDecision
from ..schemas import ActionCreate
from ..schemas_review import (
    DecisionCreate,
    DecisionPublic,
    OpensAction,
    OpensCapa,
    ReviewCreate,
    ReviewPage,
    ReviewPublic,
)
from .actions import add_action_in
from .common import record_change
from .opening import OpeningPolicy, create_capa

SERVICE = "capa"
# A CAPA a review decision opens names the review as where the problem came from.
REVIEW_SOURCE = "management_review"
_REVIEWS = TimeKeyset(col(ManagementReviewMeeting.recorded_at), col(ManagementReviewMeeting.id))


def review_view(row: ManagementReviewMeeting, decisions: list[ReviewDecision],
                numbers: dict[UUID, str]) -> ReviewPublic:
    return ReviewPublic(
        id=row.id, held_on=row.held_on, attendees=row.attendees,
        pack={"since": row.pack_since, "until": row.pack_until, "sha256": row.pack_sha256},
        notes=row.notes, recorded_by=row.recorded_by, recorded_at=row.recorded_at,
        decisions=[DecisionPublic(id=d.id, sequence=d.sequence, text=d.text, owner=d.owner,
                                  due_date=d.due_date, capa_id=d.capa_id,
                                  capa_number=numbers.get(d.capa_id) if d.capa_id else None,
                                  action_id=d.action_id)
                   for d in sorted(decisions, key=lambda d: d.sequence)])


def opened_description(decision: str, held_on: date, description: str | None) -> str:
    """The description of a CAPA a decision opens: the decision itself, naming the
    meeting, so whoever works the CAPA reads why it exists (then the decision's own
    description, if any)."""
    decided = f"Decided at the management review of {held_on.isoformat()}: {decision}"
    return decided if description is None else f"{decided}\n\n{description}"


async def _follow_up(session: AsyncSession, decision: ReviewDecision, request: DecisionCreate,
                     *, held_on: date, policy: OpeningPolicy, principal: Principal,
                     now: datetime) -> None:
    """Open the decision's CAPA or add its action, and link it to the decision."""
    # held_on lets the trail name the meeting without looking it up (entries before it
    # lack it; the UI then reads the meeting).
    link = {"review_id": decision.review_id, "decision_id": decision.id,
            "decision": decision.text, "held_on": held_on.isoformat()}
    wanted = request.follow_up
    if isinstance(wanted, OpensCapa):
        capa = await create_capa(
            session, policy=policy, title=wanted.title, severity=wanted.severity, now=now,
            created_by=principal.subject, kind=CapaKind.corrective,
            description=opened_description(decision.text, held_on, wanted.description),
            owner=wanted.owner or decision.owner,
            source=REVIEW_SOURCE, due_date=wanted.due_date or decision.due_date)
        decision.capa_id = capa.id
        await record_change(session, capa_id=capa.id, actor=principal.subject,
                            action="review_decision_linked", at=now, after=link)
    elif isinstance(wanted, OpensAction):
        action = await add_action_in(
            session, capa_id=wanted.capa_id, principal=principal, now=now,
            request=ActionCreate(kind=wanted.kind, description=wanted.description,
                                 owner=decision.owner, due_date=decision.due_date,
                                 status=ActionStatus.planned))
        decision.capa_id, decision.action_id = wanted.capa_id, action.id
        await record_change(session, capa_id=wanted.capa_id, actor=principal.subject,
                            action="review_decision_linked", at=now,
                            after=link | {"action_id": action.id})


async def record_review(sessions: SessionFactory, *, request: ReviewCreate,
                        principal: Principal, policy: OpeningPolicy, now: datetime,
                        claim: Claim | None = None) -> ReviewPublic:
    check_meeting(held_on=request.held_on, pack_since=request.pack.since,
                  pack_until=request.pack.until, today=now.date())
    async with transaction(sessions) as session:
        meeting = ManagementReviewMeeting(
            held_on=request.held_on, attendees=list(request.attendees),
            pack_since=request.pack.since, pack_until=request.pack.until,
            pack_sha256=request.pack.sha256, notes=request.notes,
            recorded_by=principal.subject, recorded_at=now)
        session.add(meeting)
        decisions: list[ReviewDecision] = []
        for sequence, wanted in enumerate(request.decisions, start=1):
            decision = ReviewDecision(review_id=meeting.id, sequence=sequence,
                                      text=wanted.text, owner=wanted.owner,
                                      due_date=wanted.due_date)
            await _follow_up(session, decision, wanted, held_on=meeting.held_on,
                             policy=policy, principal=principal, now=now)
            session.add(decision)
            decisions.append(decision)
        record_event(session, service=SERVICE, data=ManagementReviewRecorded(
            review_id=meeting.id, held_on=meeting.held_on, attendees=meeting.attendees,
            pack_since=meeting.pack_since, pack_until=meeting.pack_until,
            pack_sha256=meeting.pack_sha256, decisions=len(decisions),
            recorded_by=principal.subject, recorded_at=now,
            decision_texts=[d.text for d in decisions]))
        opened = await _capa_names(session, decisions)
        for decision in decisions:
            number, title = (opened.get(decision.capa_id, (None, None))
                             if decision.capa_id else (None, None))
            record_event(session, service=SERVICE, data=ReviewDecisionMade(
                review_id=meeting.id, decision_id=decision.id, sequence=decision.sequence,
                text=decision.text, owner=decision.owner, due_date=decision.due_date,
                capa_id=decision.capa_id, action_id=decision.action_id, made_at=now,
                held_on=meeting.held_on, capa_number=number, capa_title=title))
        view = review_view(meeting, decisions, {k: n for k, (n, _) in opened.items()})
        await complete(session, claim, status=201, body=view.model_dump(mode="json"))
    return view


async def _decisions_of(session: AsyncSession, review_ids: list[UUID]
                        ) -> dict[UUID, list[ReviewDecision]]:
    found: dict[UUID, list[ReviewDecision]] = {i: [] for i in review_ids}
    if review_ids:
        rows = (await session.exec(select(ReviewDecision).where(
            col(ReviewDecision.review_id).in_(review_ids)))).all()
        for row in rows:
            found[row.review_id].append(row)
    return found


async def _numbers(session: AsyncSession, decisions: list[ReviewDecision]) -> dict[UUID, str]:
    """The numbers of the CAPAs the decisions opened or added an action to."""
    ids = {d.capa_id for d in decisions if d.capa_id is not None}
    if not ids:
        return {}
    rows = (await session.exec(select(Capa.id, Capa.number)
                               .where(col(Capa.id).in_(ids)))).all()
    return dict(rows)


async def get_review(sessions: SessionFactory, *, review_id: UUID) -> ReviewPublic:
    async with sessions() as session:
        row = await session.get(ManagementReviewMeeting, review_id)
        if row is None:
            raise NotFound(f"There is no management review with id {review_id}.")
        decisions = (await _decisions_of(session, [review_id]))[review_id]
        return review_view(row, decisions, await _numbers(session, decisions))


async def list_reviews(sessions: SessionFactory, *, limit: int,
                       cursor: str | None) -> ReviewPage:
    """Newest recorded first."""
    async with sessions() as session:
        page, next_cursor = await _REVIEWS.fetch(session, select(ManagementReviewMeeting),
                                                 cursor, limit)
        decisions = await _decisions_of(session, [r.id for r in page])
        numbers = await _numbers(session, [d for ds in decisions.values() for d in ds])
    return ReviewPage(items=[review_view(r, decisions[r.id], numbers) for r in page],
                      next_cursor=next_cursor)


async def _capa_names(session: AsyncSession, decisions: list[ReviewDecision]
                      ) -> dict[UUID, tuple[str, str]]:
    """(number, title) of the CAPAs the decisions opened or added an action to, for
    the events: a message names what a decision started."""
    ids = {d.capa_id for d in decisions if d.capa_id is not None}
    if not ids:
        return {}
    rows = (await session.exec(select(Capa.id, Capa.number, Capa.title)
                               .where(col(Capa.id).in_(ids)))).all()
    return {capa_id: (number, title) for capa_id, number, title in rows}
