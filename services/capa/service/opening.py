"""Opening CAPAs: by hand (``POST /v1/capas``) and from escalated nonconformities."""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.auth import Principal
from shared.db import SessionFactory, transaction
from shared.errors import Conflict
from shared.events.base import Severity
from shared.events.capa import CapaNonconformityLinked, CapaOpened
from shared.events.envelope import Causation
from shared.events.nonconformity import NonconformityEscalated, NonconformityRecurred
from shared.idempotency import Claim, complete
from shared.identity import tolerant_identity
from shared.inbox import ConsumedEvent, Handler
from shared.outbox import record_event

from ..domain import CapaKind, CapaStatus, capa_number, due_date_for, risk_score
from ..domain.ownership import NO_POLICY, OwnerPolicy
from ..domain.workflow import TERMINAL
from ..models import Capa, CapaCounter, CapaNonconformity
from ..schemas import CapaCreate, CapaPublic
from .attribution import supplier_code_of
from .common import SYSTEM, capa_view, event_fields, record_change

log = logging.getLogger(__name__)
SERVICE = "capa"
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class OpeningPolicy:
    """The configurable part of opening: due days per severity, default likelihood."""

    due_days: dict[str, int]
    default_likelihood: int = 3
    # Who owns an escalated CAPA whose NC has no owner (domain.ownership).
    owners: OwnerPolicy = NO_POLICY


async def next_number(session: AsyncSession, year: int) -> str:
    """The next readable number of ``year``: one counter row, updated in this
    transaction, so concurrent openings never share a number."""
    increment = (update(CapaCounter).where(col(CapaCounter.year) == year)
                 .values(last_sequence=col(CapaCounter.last_sequence) + 1)
                 .returning(col(CapaCounter.last_sequence)))
    sequence = (await session.exec(increment)).scalar_one_or_none()
    if sequence is None:
        try:
            async with session.begin_nested():
                session.add(CapaCounter(year=year, last_sequence=1))
            sequence = 1
        except IntegrityError:  # another transaction created the year's row first
            sequence = (await session.exec(increment)).scalar_one()
    return capa_number(year, sequence)


async def create_capa(session: AsyncSession, *, policy: OpeningPolicy, title: str,
                      severity: Severity, now: datetime, created_by: str,
                      kind: CapaKind = CapaKind.corrective, description: str | None = None,
                      likelihood: int | None = None, owner: str | None = None,
                      nonconformity_id: UUID | None = None, source: str | None = None,
                      due_date: date | None = None, linked_via: str = "manual",
                      causation: Causation | None = None,
                      supplier_code: str | None = None) -> Capa:
    likelihood = likelihood or policy.default_likelihood
    capa = Capa(
        number=await next_number(session, now.year), title=title, description=description,
        kind=kind, severity=severity, likelihood=likelihood,
        risk_score=risk_score(severity, likelihood), owner=owner,
        nonconformity_id=nonconformity_id,
        source=source or ("risk" if kind is CapaKind.preventive else "internal"),
        due_date=due_date or due_date_for(severity, now.date(), policy.due_days),
        opened_at=now, updated_at=now, created_by=created_by, supplier_code=supplier_code)
    session.add(capa)
    if nonconformity_id is not None:
        session.add(CapaNonconformity(nonconformity_id=nonconformity_id, capa_id=capa.id,
                                      linked_via=linked_via, linked_at=now))
    await session.flush()
    await record_change(session, capa_id=capa.id, actor=created_by, action="opened", at=now,
                        after=_opening_record(capa), first=True)
    record_event(session, service=SERVICE, causation=causation, data=CapaOpened(
        capa_id=capa.id, number=capa.number, title=capa.title,
        nonconformity_id=nonconformity_id, severity=capa.severity, opened_at=now,
        kind=capa.kind, source=capa.source, owner=capa.owner, due_date=capa.due_date,
        risk_score=capa.risk_score, opened_by=created_by))
    return capa


def _opening_record(capa: Capa) -> dict[str, object]:
    record: dict[str, object] = {
        "number": capa.number, "title": capa.title, "kind": capa.kind,
        "severity": capa.severity, "likelihood": capa.likelihood,
        "risk_score": capa.risk_score, "owner": capa.owner, "source": capa.source,
        "due_date": capa.due_date, "nonconformity_id": capa.nonconformity_id,
        "status": capa.status}
    if capa.supplier_code:  # only where named, so other openings read as before
        record["supplier_code"] = capa.supplier_code
    return record


async def open_capa(sessions: SessionFactory, *, request: CapaCreate, principal: Principal,
                    policy: OpeningPolicy, now: datetime, claim: Claim | None = None
                    ) -> CapaPublic:
    if request.kind is CapaKind.preventive and request.nonconformity_id is not None:
        raise Conflict("A preventive CAPA addresses a risk, not a nonconformity; open a "
                       "corrective CAPA for the NC instead.")
    async with transaction(sessions) as session:
        if request.nonconformity_id is not None:
            link = await session.get(CapaNonconformity, request.nonconformity_id)
            linked = await session.get(Capa, link.capa_id) if link is not None else None
            if link is not None and linked is not None \
                    and linked.status != CapaStatus.cancelled:
                raise Conflict("This nonconformity is already addressed by a CAPA.",
                               capa_id=str(link.capa_id))
            if link is not None:
                # Its CAPA was cancelled: the NC is free for a new one (the
                # cancelled CAPA's audit trail still records the link).
                await session.delete(link)
                if linked is not None and linked.nonconformity_id == request.nonconformity_id:
                    linked.nonconformity_id = None
                    session.add(linked)
                await session.flush()
        capa = await create_capa(
            session, policy=policy, title=request.title, severity=request.severity,
            now=now, created_by=principal.subject, kind=request.kind,
            description=request.description, likelihood=request.likelihood,
            owner=request.owner, nonconformity_id=request.nonconformity_id,
            # A preventive CAPA comes from a risk or an opportunity (ISO 9001 6.1).
            source="risk" if request.kind is CapaKind.preventive else request.source,
            due_date=request.due_date)
        ncs = [request.nonconformity_id] if request.nonconformity_id else []
        view = capa_view(capa, ncs, now.date())
        await complete(session, claim, status=201, body=view.model_dump(mode="json"))
    return view


def escalation_handler(policy: OpeningPolicy, *, clock: Clock) -> Handler:
    async def open_for_escalation(session: AsyncSession,
                                  event: ConsumedEvent[NonconformityEscalated]) -> None:
        """One CAPA per NC: a redelivered or repeated escalation finds the link and stops."""
        data = event.data
        if await session.get(CapaNonconformity, data.nonconformity_id) is not None:
            log.info("NC %s already has a CAPA; escalation ignored", data.number)
            return
        # An event cannot be refused: its owner is canonicalised, invisibles dropped.
        owner = tolerant_identity(data.owner) or None if data.owner else None
        chosen = None if owner else policy.owners.owner_for(
            source=data.source, category=data.category, severity=data.severity)
        capa = await create_capa(
            session, policy=policy, title=data.title, severity=data.severity, now=clock(),
            created_by=SYSTEM, description=data.description,
            owner=owner or (chosen[0] if chosen else None),
            nonconformity_id=data.nonconformity_id, source=data.source,
            linked_via="escalated", causation=event.causation(),
            supplier_code=supplier_code_of(data.supplier_code))
        if chosen:
            log.info("%s owned by %s (owner policy rule %s)", capa.number, *chosen)

    return open_for_escalation


def recurrence_handler(*, clock: Clock) -> Handler:
    async def link_recurrence(session: AsyncSession,
                              event: ConsumedEvent[NonconformityRecurred]) -> None:
        """A recurrence naming an open CAPA is linked to it; no new CAPA."""
        data = event.data
        if data.capa_id is None:
            return
        if await session.get(CapaNonconformity, data.nonconformity_id) is not None:
            return
        capa = await session.get(Capa, data.capa_id, with_for_update=True)
        if capa is None or capa.status in TERMINAL:
            log.info("recurrence of %s names CAPA %s, which is not open; not linked",
                     data.number, data.capa_id)
            return
        now = clock()
        session.add(CapaNonconformity(nonconformity_id=data.nonconformity_id,
                                      capa_id=capa.id, linked_via="recurred", linked_at=now))
        capa.version += 1
        capa.updated_at = now
        await record_change(session, capa_id=capa.id, actor=SYSTEM,
                            action="nonconformity_linked", at=now,
                            after={"nonconformity_id": data.nonconformity_id,
                                   "nc_number": data.number,
                                   "occurrence_count": data.occurrence_count})
        record_event(session, service=SERVICE, causation=event.causation(),
                     data=CapaNonconformityLinked(**event_fields(capa),
                                                  nonconformity_id=data.nonconformity_id,
                                                  linked_at=now))

    return link_recurrence

