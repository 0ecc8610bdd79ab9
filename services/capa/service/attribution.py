"""Which NCs each supplier caused, kept from the nonconformity service's events
(``reported`` and ``updated`` carry the NC's supplier code) for the scorecards.

An event cannot be refused: a code that is not one is dropped with a warning,
and a code nobody registered is kept (the NC names who it came from; the
register may list them later).
"""

import logging
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from shared.events.nonconformity import NonconformityReported, NonconformityUpdated
from shared.inbox import ConsumedEvent

from ..domain.supplier import InvalidCode, canonical_code
from ..supplier_models import SupplierNonconformity

log = logging.getLogger(__name__)


def supplier_code_of(value: str | None) -> str | None:
    """The code an event names, canonical; None when it names none (or no valid one)."""
    if not value:
        return None
    try:
        return canonical_code(value)
    except InvalidCode:
        log.warning("an NC event names no valid supplier code; left out")
        return None


async def _attribute(session: AsyncSession, data: Any, code: str | None,
                     at: datetime) -> None:
    row = await session.get(SupplierNonconformity, data.nonconformity_id)
    if code is None:
        if row is not None:
            await session.delete(row)
        return
    if row is None:
        session.add(SupplierNonconformity(nonconformity_id=data.nonconformity_id,
                                          supplier_code=code, number=data.number,
                                          severity=str(data.severity), reported_at=at))
    else:
        row.supplier_code, row.severity = code, str(data.severity)


async def on_reported(session: AsyncSession,
                      event: ConsumedEvent[NonconformityReported]) -> None:
    data = event.data
    await _attribute(session, data, supplier_code_of(data.supplier_code), data.reported_at)


async def on_updated(session: AsyncSession, event: ConsumedEvent[NonconformityUpdated]) -> None:
    data = event.data
    # Every update carries the NC's current code; a redelivery sets the same again.
    await _attribute(session, data, supplier_code_of(data.supplier_code), data.updated_at)
