"""The NC figures of the management review (ISO 9001 9.3): what was reported in a
period, by severity and by the status it has now, and the untriaged backlog.

Every figure is computed with the inbox's own filter (``queries.filtered``), so a
figure and the list a dashboard links it to cannot drift apart.
"""

from datetime import datetime

from sqlalchemy import func
from sqlmodel import select

from shared.db import SessionFactory
from shared.events.base import Severity
from shared.vocabulary import NonconformityStatus

from ..schemas import NonconformityReview, UntriagedBacklog
from .inbox_order import ORDERS, InboxSort
from .queries import NonconformityFilter, filtered

UNTRIAGED = NonconformityStatus.reported


async def review_figures(*, sessions: SessionFactory, since: datetime, until: datetime,
                         now: datetime) -> NonconformityReview:
    period = filtered(NonconformityFilter(since=since, until=until)).subquery()
    backlog = filtered(NonconformityFilter(status=UNTRIAGED.value))
    async with sessions() as session:
        rows = (await session.exec(
            select(period.c.severity, period.c.status, func.count())
            .group_by(period.c.severity, period.c.status))).all()
        waiting = int((await session.exec(
            select(func.count()).select_from(backlog.subquery()))).one())
        # The first row of the inbox sorted oldest first, as the figure's link shows it.
        first, _ = await ORDERS[InboxSort.oldest].fetch(session, backlog, None, 1)
    oldest = first[0] if first else None
    by_severity = {s.value: 0 for s in Severity}
    by_status = {s.value: 0 for s in NonconformityStatus}
    for severity, status, count in rows:
        # A value outside today's vocabulary (none is written) still counts.
        by_severity[severity] = by_severity.get(severity, 0) + int(count)
        by_status[status] = by_status.get(status, 0) + int(count)
    untriaged = UntriagedBacklog(total=waiting)
    if oldest is not None:
        untriaged = UntriagedBacklog(
            total=waiting, oldest_id=oldest.id, oldest_number=oldest.number,
            oldest_reported_at=oldest.created_at,
            oldest_age_days=max(0, (now - oldest.created_at).days))
    return NonconformityReview(since=since, until=until, as_of=now,
                               reported_in_period=sum(by_status.values()),
                               by_severity=by_severity, by_status=by_status,
                               untriaged=untriaged)
