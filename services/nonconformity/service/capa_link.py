"""Event handlers: what the CAPA service's events mean for nonconformities.

They run inside the consumer's transaction (shared.inbox); redeliveries are
filtered there, and each handler is also safe to run on an NC that already
moved on.
"""

from uuid import UUID

from sqlalchemy import or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import utcnow
from shared.events.capa import CapaCancelled, CapaClosed, CapaOpened
from shared.events.nonconformity import NonconformityRecurred
from shared.inbox import ConsumedEvent

from ..domain import CapaLink, NonconformityStatus
from ..models import Nonconformity
from .lifecycle import close_in_session
from .records import add_history, emit, touch


async def on_capa_opened(session: AsyncSession, event: ConsumedEvent[CapaOpened]) -> None:
    data = event.data
    if data.nonconformity_id is None:
        return  # a preventive CAPA: no NC behind it
    # The NC and the recurrences waiting for its CAPA in one query (one round trip
    # per CAPA opened, under load the most frequent event here): recurrences that
    # arrived while this CAPA was being opened join it now, and the CAPA service
    # learns of them through nonconformity.recurred.
    rows = (await session.exec(select(Nonconformity).where(or_(
        col(Nonconformity.id) == data.nonconformity_id,
        (col(Nonconformity.joins_capa_of) == data.nonconformity_id)
        & (col(Nonconformity.capa_link) == CapaLink.requested)))
        # Report order: the recurred events then reach the CAPA service in that order.
        .order_by(col(Nonconformity.created_at), col(Nonconformity.id))
        .with_for_update())).all()
    nc = next((r for r in rows if r.id == data.nonconformity_id), None)
    if nc is None or nc.capa_link in (CapaLink.open, CapaLink.closed):
        return
    nc.capa_id, nc.capa_number, nc.capa_link = data.capa_id, data.number, CapaLink.open
    touch(nc)
    session.add(nc)
    add_history(session, nc, actor="capa-service", action="capa_opened",
                changes={"capa_id": str(data.capa_id), "capa_number": data.number})
    waiting = [r for r in rows if r.id != data.nonconformity_id]
    for other in waiting:
        other.capa_id, other.capa_number, other.capa_link = data.capa_id, data.number, \
            CapaLink.open
        touch(other)
        session.add(other)
        add_history(session, other, actor="capa-service", action="linked_to_capa",
                    changes={"capa_id": str(data.capa_id), "capa_number": data.number})
        emit(session, other, NonconformityRecurred, occurrence_count=other.occurrence_count,
             last_seen=other.last_seen, capa_id=data.capa_id, recurred_at=utcnow())


async def on_capa_closed(session: AsyncSession, event: ConsumedEvent[CapaClosed]) -> None:
    """Closes every NC of the CAPA, citing it and its effectiveness verification."""
    data = event.data
    ids: set[UUID] = set(data.nonconformity_ids)
    rows = (await session.exec(select(Nonconformity).where(
        or_(col(Nonconformity.capa_id) == data.capa_id, col(Nonconformity.id).in_(ids)))
        .order_by(col(Nonconformity.created_at), col(Nonconformity.id)))).all()
    effectiveness = data.effectiveness_result or "verified"
    for nc in rows:
        nc.capa_link, nc.capa_id = CapaLink.closed, data.capa_id
        nc.capa_number = nc.capa_number or data.number
        touch(nc)
        session.add(nc)
        if nc.status == NonconformityStatus.closed:
            continue
        close_in_session(session, nc, actor=data.closed_by,
                         resolution=f"Closed with {data.number}; effectiveness: {effectiveness}"
                         + (f" ({data.effectiveness_evidence})"
                            if data.effectiveness_evidence else ""))


async def on_capa_cancelled(session: AsyncSession, event: ConsumedEvent[CapaCancelled]) -> None:
    """A cancelled CAPA no longer addresses its NCs: they are released, so they
    can be closed (or handled by another CAPA) instead of waiting forever."""
    data = event.data
    rows = (await session.exec(select(Nonconformity).where(
        or_(col(Nonconformity.capa_id) == data.capa_id,
            col(Nonconformity.id).in_(set(data.nonconformity_ids))))
        .order_by(col(Nonconformity.created_at), col(Nonconformity.id)))).all()
    for nc in rows:
        if nc.capa_link not in (CapaLink.open, CapaLink.requested):
            continue
        nc.capa_link, nc.capa_id, nc.capa_number = CapaLink.none, None, None
        touch(nc)
        session.add(nc)
        add_history(session, nc, actor=data.cancelled_by, action="capa_cancelled",
                    reason=data.reason, changes={"capa_id": str(data.capa_id),
                                                 "capa_number": data.number})
