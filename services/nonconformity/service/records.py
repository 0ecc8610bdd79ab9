"""Writing helpers every use case shares: events, history, readable numbers.

They only add to the caller's session; committing stays with the use case.
"""

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import utcnow
from shared.events.envelope import Causation
from shared.events.nonconformity import NonconformityEvent, NonconformityReported
from shared.outbox import record_event

from ..domain import nonconformity_number, recurrence_key
from ..models import (
    Nonconformity,
    NonconformityHistory,
    NonconformityTag,
    NumberSequence,
    Occurrence,
)

SERVICE = "nonconformity"


def emit(session: AsyncSession, nc: Nonconformity, model: type[NonconformityEvent], *,
         causation: Causation | None = None, **fields: Any) -> None:
    """Record an NC event carrying the fields subscribers filter on."""
    data = model(nonconformity_id=nc.id, number=nc.number, title=nc.title,
                 severity=nc.severity, source=nc.source, category=nc.category,
                 affected_item=nc.affected_item, tags=list(nc.tags), owner=nc.owner,
                 supplier_code=nc.supplier_code, **fields)
    record_event(session, service=SERVICE, data=data, causation=causation)


def add_history(session: AsyncSession, nc: Nonconformity, *, actor: str, action: str,
                changes: dict[str, Any] | None = None, reason: str | None = None) -> None:
    session.add(NonconformityHistory(nonconformity_id=nc.id, at=utcnow(), actor=actor,
                                     action=action, changes=changes or {}, reason=reason))


def touch(nc: Nonconformity) -> None:
    nc.version += 1
    nc.updated_at = utcnow()


def new_nonconformity(*, fields: dict[str, Any], reported_by: str, number: str | None,
                      now: datetime) -> tuple[Nonconformity, datetime]:
    """An NC object (not yet in a session) and the start of its first occurrence.

    Without ``number`` it carries a provisional one (its own id, unique and never
    committed) until :func:`allocate_numbers` gives it the readable number."""
    fields = dict(fields)
    started: datetime = fields.pop("started_at", None) or fields.get("occurred_at") or now
    nc = Nonconformity(**fields, number="", reported_by=reported_by, first_seen=started,
                       last_seen=now, created_at=now, updated_at=now,
                       recurrence_key=recurrence_key(fields.get("category"),
                                                     fields.get("affected_item")))
    nc.number = number or nc.id.hex
    return nc, started


def add_reported(session: AsyncSession, nc: Nonconformity, *, started: datetime) -> None:
    """Add a new NC with its tags, first occurrence and ``reported`` history entry."""
    session.add(nc)
    for tag in dict.fromkeys(nc.tags):
        session.add(NonconformityTag(nonconformity_id=nc.id, tag=tag))
    session.add(Occurrence(nonconformity_id=nc.id, fingerprint=nc.fingerprint,
                           started_at=started))
    add_history(session, nc, actor=nc.reported_by, action="reported",
                changes={"severity": nc.severity, "source": nc.source})


def emit_reported(session: AsyncSession, nc: Nonconformity) -> None:
    """The ``reported`` event; it carries the readable number, so it comes after allocation."""
    emit(session, nc, NonconformityReported, description=nc.description,
         external_ref=nc.external_ref, fingerprint=nc.fingerprint,
         reported_by=nc.reported_by, reported_at=nc.created_at)


async def allocate_numbers(session: AsyncSession, count: int) -> list[str]:
    """``count`` consecutive numbers of this year, gapless: one upsert of the
    year's counter row. The row stays locked until COMMIT, so concurrent reports
    never share a number and a rolled-back report leaves no gap; callers take
    it as late as they can, because every other report waits for it."""
    year = utcnow().year
    upsert = _counter_upsert(dialect(session))
    last: int = (await session.exec(upsert, params={
        "year": year, "count": count})).scalar_one()
    first = last - count + 1
    return [nonconformity_number(year, n) for n in range(first, last + 1)]


@cache
def _counter_upsert(dialect_name: str) -> Any:
    # Built once per dialect: building the statement cost more CPU than sending it.
    insert = pg_insert if dialect_name == "postgresql" else sqlite_insert
    values = insert(NumberSequence).values(year=bindparam("year"),
                                           last_value=bindparam("count"))
    return values.on_conflict_do_update(
        index_elements=["year"],
        set_={"last_value": col(NumberSequence.last_value) + values.excluded.last_value},
    ).returning(col(NumberSequence.last_value))


def dialect(session: AsyncSession) -> str:
    bind = session.get_bind()
    return bind.dialect.name

