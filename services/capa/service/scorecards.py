"""Supplier scorecards for a period (domain.scorecard has the figures' rules):
the rows they need, read in four bounded queries. Open items are counted at the
period's end (a past period's ranking is the one it had then), from the SCARs'
and CAPAs' times; whether a SCAR is late is judged on ``now``'s date."""

from collections import defaultdict
from datetime import datetime

from sqlalchemy import func, or_
from sqlmodel import col, select

from shared.db import SessionFactory

from ..domain.scar import AWAITING_SUPPLIER, FINISHED
from ..domain.scorecard import REPEAT_WINDOW, ScarFacts, ranked, scorecard
from ..domain.workflow import OPEN_STATES
from ..models import Capa
from ..supplier_models import Scar, Supplier, SupplierNonconformity
from ..supplier_schemas import ScorecardPublic, ScorecardReport

OPEN_SCAR = [*(s.value for s in AWAITING_SUPPLIER), "responded"]


async def supplier_scorecards(sessions: SessionFactory, *, since: datetime,
                              until: datetime, now: datetime) -> ScorecardReport:
    async with sessions() as session:
        register = {s.code: s for s in (await session.exec(select(Supplier))).all()}
        ncs = (await session.exec(
            select(col(SupplierNonconformity.supplier_code),
                   col(SupplierNonconformity.reported_at))
            .where(col(SupplierNonconformity.reported_at) >= since - REPEAT_WINDOW,
                   col(SupplierNonconformity.reported_at) < until))).all()
        # The period's SCARs, and those open at its end: sent before it and not
        # finished (accepted, withdrawn) before it.
        scars = (await session.exec(select(Scar).where(or_(
            col(Scar.sent_at).between(since, until),
            (col(Scar.sent_at) < until) & or_(col(Scar.status).in_(OPEN_SCAR),
                                              col(Scar.decided_at) >= until))))).all()
        # CAPAs open at the period's end: opened before it, and open now or
        # closed/cancelled since.
        capas = (await session.exec(
            select(col(Capa.supplier_code), func.count())
            .where(col(Capa.supplier_code).is_not(None), col(Capa.opened_at) < until,
                   or_(col(Capa.status).in_(list(OPEN_STATES)),
                       col(Capa.closed_at) >= until, col(Capa.cancelled_at) >= until))
            .group_by(col(Capa.supplier_code)))).all()
    times: dict[str, list[datetime]] = defaultdict(list)
    earlier: dict[str, datetime] = {}
    for code, at in ncs:
        if at < since:
            earlier[code] = max(at, earlier.get(code, at))
        else:
            times[code].append(at)
    facts: dict[str, list[ScarFacts]] = defaultdict(list)
    for s in scars:
        facts[s.supplier_code].append(ScarFacts(
            supplier_code=s.supplier_code, sent_at=s.sent_at, due_date=s.due_date,
            first_responded_at=s.first_responded_at,
            accepted_at=s.decided_at if s.status == "accepted" else None,
            closed_at=s.decided_at if s.status in FINISHED else None))
    open_capas = {code: count for code, count in capas if code}
    codes = set(register) | set(times) | set(facts) | set(open_capas)
    cards = ranked(scorecard(code, nc_times=times.get(code, []), earlier_nc=earlier.get(code),
                             scars=facts.get(code, []), open_capas=open_capas.get(code, 0),
                             since=since, until=until, today=now.date()) for code in codes)
    return ScorecardReport(since=since, until=until, items=[
        ScorecardPublic(**card.__dict__, name=register[card.supplier_code].name
                        if card.supplier_code in register else None,
                        criticality=str(register[card.supplier_code].criticality)
                        if card.supplier_code in register else None)
        for card in cards])
