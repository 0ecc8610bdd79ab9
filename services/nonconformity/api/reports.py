"""Read-only figures over many NCs, for dashboards (the management review)."""

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from shared.inputs import QueryTime
from shared.periods import forward_period

from ..schemas import NonconformitiesPerWeek, NonconformityReview
from ..service import queries
from ..service.review import review_figures
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


@router.get("/management-review", response_model=NonconformityReview,
            summary="ISO 9001 9.3 NC figures for [since, until): reported by severity and "
                    "status, and the untriaged backlog (count, the oldest) as of now")
async def management_review(_: Reader, sessions: SessionsDep,
                            since: QueryTime | None = None,
                            until: QueryTime | None = None) -> NonconformityReview:
    # Defaults as the capa service's review: the year up to now. A backwards or
    # empty period is refused as there (shared.periods): it would read as zero counts.
    now = datetime.now(UTC)
    start, end = forward_period(since, until, now=now, default_length=timedelta(days=365),
                                field="query.since")
    return await review_figures(sessions=sessions, since=start, until=end, now=now)
