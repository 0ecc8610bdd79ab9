"""Writing helpers every use case shares: events, history, readable numbers.

They only add to the caller's session; committing stays with the use case.
"""

from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import utcnow
from shared.events.envelope import Causation
from shared.events.nonconformity import NonconformityEvent
from shared.outbox import record_event

from .domain import nonconformity_number
from .models import Nonconformity, NonconformityHistory, NumberSequence

SERVICE = "nonconformity"


def emit(session: AsyncSession, nc: Nonconformity, model: type[NonconformityEvent], *,
         causation: Causation | None = None, **fields: Any) -> None:
    """Record an NC event carrying the fields subscribers filter on."""
    data = model(nonconformity_id=nc.id, number=nc.number, title=nc.title,
                 severity=nc.severity, source=nc.source, category=nc.category,
                 affected_item=nc.affected_item, tags=list(nc.tags), owner=nc.owner, **fields)
    record_event(session, service=SERVICE, data=data, causation=causation)


def add_history(session: AsyncSession, nc: Nonconformity, *, actor: str, action: str,
                changes: dict[str, Any] | None = None, reason: str | None = None) -> None:
    session.add(NonconformityHistory(nonconformity_id=nc.id, at=utcnow(), actor=actor,
                                     action=action, changes=changes or {}, reason=reason))


def touch(nc: Nonconformity) -> None:
    nc.version += 1
    nc.updated_at = utcnow()


async def allocate_numbers(session: AsyncSession, count: int) -> list[str]:
    """``count`` consecutive numbers of this year. The counter row is locked for
    the rest of the transaction, so concurrent reports never share a number."""
    year = utcnow().year
    insert = pg_insert if dialect(session) == "postgresql" else sqlite_insert
    await session.exec(insert(NumberSequence).values(year=year, last_value=0)  # type: ignore[call-overload]
                       .on_conflict_do_nothing(index_elements=["year"]))
    sequence = (await session.exec(select(NumberSequence).where(NumberSequence.year == year)
                                   .with_for_update())).one()
    first = sequence.last_value + 1
    sequence.last_value += count
    session.add(sequence)
    return [nonconformity_number(year, n) for n in range(first, first + count)]


def dialect(session: AsyncSession) -> str:
    bind = session.get_bind()
    return bind.dialect.name


def recurrence_key(category: str | None, affected_item: str | None) -> str | None:
    if not category or not affected_item:
        return None
    return f"{category.strip().lower()}|{affected_item.strip().lower()}"
