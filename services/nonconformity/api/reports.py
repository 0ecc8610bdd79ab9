"""Read-only figures over many NCs, for dashboards (the management review)."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from ..schemas import NonconformitiesPerWeek
from ..service import queries
from .deps import Reader, SessionsDep

router = APIRouter(prefix="/v1/reports", tags=["reports"])

# Two years of weeks: enough for any review period, and the work stays bounded.
MAX_WEEKS = 104


@router.get("/nonconformities-per-week", response_model=NonconformitiesPerWeek,
            summary="NCs reported per UTC ISO week and source, zero-filled")
async def nonconformities_per_week(
        _: Reader, sessions: SessionsDep,
        weeks: Annotated[int, Query(ge=1, le=MAX_WEEKS)] = 12) -> NonconformitiesPerWeek:
    return await queries.nonconformities_per_week(sessions=sessions, weeks=weeks,
                                                  now=datetime.now(UTC))
