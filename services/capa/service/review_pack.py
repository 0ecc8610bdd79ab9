"""The management-review data pack for a period (ISO 9001 9.3.2).

The figures of the period and of the one before come from the same review
computation (``queries.management_review``) called for both periods, so the pack
and the dashboard never disagree. Lists are bounded (``LIST_LIMIT``) with their
totals beside them; the pack says when one was cut.
"""

import asyncio
from datetime import datetime
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import SessionFactory

from ..domain.objectives import METRICS, Period, measure
from ..domain.review_pack import (
    comparison,
    pack_csv,
    pack_digest,
    previous_period,
)
from ..domain.workflow import OPEN_STATES
from ..models import ActionRow, Capa
from ..models_lessons import Lesson
from .objectives import measured_objectives, objective_view, review_data
from .queries import management_review
from .reminders import UNFINISHED
from .review_pdf import pack_pdf
from .scorecards import supplier_scorecards

LIST_LIMIT = 200


def _bounded(items: list[dict[str, Any]], total: int) -> dict[str, Any]:
    return {"items": items, "total": total, "truncated": total > len(items)}


async def _open_capas(session: AsyncSession, today: Any) -> dict[str, Any]:
    query = select(Capa).where(col(Capa.status).in_(list(OPEN_STATES)))
    total = (await session.exec(select(func.count()).select_from(query.subquery()))).one()
    rows = (await session.exec(query.order_by(col(Capa.due_date), col(Capa.number))
                               .limit(LIST_LIMIT))).all()
    return _bounded([{"id": c.id, "number": c.number, "title": c.title, "status": c.status,
                      "severity": c.severity, "owner": c.owner, "due_date": c.due_date,
                      "overdue": c.due_date < today, "opened_at": c.opened_at}
                     for c in rows], total)


async def _open_actions(session: AsyncSession, today: Any) -> dict[str, Any]:
    query = (select(ActionRow, Capa.number)
             .join(Capa, col(Capa.id) == col(ActionRow.capa_id))
             .where(col(ActionRow.status).in_(UNFINISHED),
                    col(Capa.status).in_(list(OPEN_STATES))))
    total = (await session.exec(select(func.count()).select_from(query.subquery()))).one()
    rows = (await session.exec(query.order_by(col(ActionRow.due_date), col(ActionRow.id))
                               .limit(LIST_LIMIT))).all()
    return _bounded([{"id": a.id, "capa_id": a.capa_id, "capa_number": number,
                      "kind": a.kind, "description": a.description, "owner": a.owner,
                      "status": a.status, "due_date": a.due_date,
                      "overdue": a.due_date < today}
                     for a, number in rows], total)


async def _lessons(session: AsyncSession, since: datetime, until: datetime) -> dict[str, Any]:
    query = select(Lesson).where(col(Lesson.published_at) >= since,
                                 col(Lesson.published_at) < until)
    total = (await session.exec(select(func.count()).select_from(query.subquery()))).one()
    rows = (await session.exec(query.order_by(col(Lesson.published_at), col(Lesson.id))
                               .limit(LIST_LIMIT))).all()
    return _bounded([{"id": r.id, "capa_id": r.capa_id, "capa_number": r.capa_number,
                      "title": r.title, "problem": r.problem, "root_cause": r.root_cause,
                      "cause_category": r.cause_category, "actions": r.actions,
                      "what_to_do_differently": r.what_to_do_differently, "tags": r.tags,
                      "published_at": r.published_at} for r in rows], total)


async def review_pack(sessions: SessionFactory, *, since: datetime, until: datetime,
                      now: datetime) -> dict[str, Any]:
    """The pack as JSON-ready data with its ``sha256`` (domain.review_pack)."""
    before_since, before_until = previous_period(since, until)
    current = await management_review(sessions, since=since, until=until, now=now)
    previous = await management_review(sessions, since=before_since, until=before_until,
                                       now=now)
    async with sessions() as session:
        data = await review_data(session, since=before_since)
        for figures, period in ((current, Period(since, until)),
                                (previous, Period(before_since, before_until))):
            end = Period(period.since, min(period.until, now))
            for key, metric in (("open_at_end", "open_capas"),
                                ("overdue_at_end", "overdue_capas")):
                counted = measure(METRICS[metric], data.capas, [], end)
                figures[key] = None if counted is None else int(counted)
        objectives = [objective_view(row, measured).model_dump()
                      for row, measured in await measured_objectives(session, now=now)]
        today = now.date()
        pack: dict[str, Any] = {
            "period": {"since": since, "until": until},
            "previous_period": {"since": before_since, "until": before_until},
            "as_of": now,
            "comparison": comparison(current, previous),
            "figures": current,
            "previous_figures": previous,
            "objectives": objectives,
            "open_capas": await _open_capas(session, today),
            "open_actions": await _open_actions(session, today),
            "lessons": await _lessons(session, since, until),
        }
    # The same ranking as GET /v1/suppliers/scorecards for the pack's period.
    cards = await supplier_scorecards(sessions, since=since, until=until, now=now)
    pack["supplier_scorecards"] = {"items": [card.model_dump() for card in cards.items]}
    jsonable: dict[str, Any] = to_jsonable_python(pack)
    jsonable["sha256"] = pack_digest(jsonable)
    return jsonable


def pack_as_csv(pack: dict[str, Any]) -> str:
    return pack_csv(pack)


async def pack_as_pdf(pack: dict[str, Any]) -> bytes:
    # Laying out a long pack takes a CPU-bound moment: off the event loop.
    return await asyncio.to_thread(pack_pdf, pack)
