"""Read-only figures over many NCs, for dashboards (the management review)."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from ..service import queries
from .deps import Reader, SessionsDep

router = APIRouter(prefix="/v1/reports", tags=["reports"])

# Two years of weeks: enough for any review period, and the work stays bounded.
MAX_WEEKS = 104


class WeekCounts(BaseModel):
    week_start: str = Field(description="Monday of the UTC ISO week (YYYY-MM-DD)")
    counts: dict[str, int] = Field(description="NCs reported that week, per source; every "
                                               "source of the window is listed, 0 if none")
    total: int


class NonconformitiesPerWeek(BaseModel):
    since: str = Field(description="Monday the first week starts (inclusive)")
    until: str = Field(description="Monday after the last week (exclusive)")
    sources: list[str] = Field(description="Every source with at least one NC in the window")
    weeks: list[WeekCounts] = Field(description="Oldest first; the last is the current week")


@router.get("/nonconformities-per-week", response_model=NonconformitiesPerWeek,
            summary="NCs reported per UTC ISO week and source, zero-filled")
async def nonconformities_per_week(
        _: Reader, sessions: SessionsDep,
        weeks: Annotated[int, Query(ge=1, le=MAX_WEEKS)] = 12) -> NonconformitiesPerWeek:
    figures = await queries.nonconformities_per_week(sessions=sessions, weeks=weeks,
                                                     now=datetime.now(UTC))
    return NonconformitiesPerWeek.model_validate(figures)
