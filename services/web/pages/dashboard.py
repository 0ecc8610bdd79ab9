"""The management review (ISO 9001 9.3): the services' figures for a period beside
the previous period's, each linked to its list (review_figures.py), the CAPA
charts, and NCs per week by source.

Each service is asked for both periods at once; a service that refuses or cannot
be reached empties its own panels and the rest of the review still shows.
"""

import asyncio
from collections.abc import Awaitable
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup

from shared.vocabulary import CauseCategory, Source

from .. import charts
from ..client import ApiError, UserApi
from ..deps import Api, CurrentUser, render
from .choices import label
from .objectives_panel import objectives_panel, shown
from .review_figures import action_panel, capa_panel, nonconformity_panel, pareto_rows
from .review_period import Period, read_period
from .wording import plain

router = APIRouter()

WEEK_CHOICES = (4, 8, 12, 26, 52)
DEFAULT_WEEKS = 12


async def _fetch(call: Awaitable[Any]) -> tuple[Any, ApiError | None]:
    """One panel's data, or why not: a refused or unreachable service leaves the rest
    of the review readable."""
    try:
        return await call, None
    except ApiError as exc:
        if exc.status == 401:  # the app's handler sends the person to sign in again
            raise
        return None, exc


def _message(exc: ApiError | None) -> str | None:
    if exc is None:
        return None
    if exc.status == 403:
        return f"You may not see these figures: {exc}"
    return str(exc)


def _query_errors(exc: ApiError) -> dict[str, str]:
    return {key.removeprefix("query."): plain(message)
            for key, message in exc.field_errors().items()}


def _label(value: str, vocabulary: type[StrEnum]) -> str:
    return label(value, vocabulary)


def _week_label(week_start: str) -> str:
    try:
        return date.fromisoformat(week_start).strftime("%d %b")
    except ValueError:
        return week_start


def review_charts(review: dict[str, Any]) -> dict[str, Markup]:
    causes = [(_label(r["name"], CauseCategory), int(r["count"]), float(r["cumulative_percent"]))
              for r in review.get("root_cause_categories") or []]
    sources = [(_label(r["name"], Source), int(r["count"]), float(r["cumulative_percent"]))
               for r in review.get("nonconformity_sources") or []]
    aging = [(f"{bucket} days", int(count))
             for bucket, count in (review.get("open_by_age_days") or {}).items()]
    # charts.py escapes every text it draws, so its markup is safe to insert as is.
    return {
        "causes": Markup(charts.pareto_chart(
            causes, chart_id="chart-causes",
            title="Pareto of root-cause categories of CAPAs opened in the period")),
        "sources": Markup(charts.pareto_chart(
            sources, chart_id="chart-sources",
            title="Pareto of nonconformity sources of CAPAs opened in the period")),
        "aging": Markup(charts.bar_chart(
            aging, chart_id="chart-aging", title="Open CAPAs by age in days", unit=" open")),
    }


def weekly_chart(weekly: dict[str, Any]) -> Markup:
    weeks = weekly.get("weeks") or []
    series = [(_label(source, Source), [int(w["counts"].get(source, 0)) for w in weeks])
              for source in weekly.get("sources") or []]
    return Markup(charts.stacked_bar_chart(
        [_week_label(w["week_start"]) for w in weeks], series, chart_id="chart-weekly",
        title="Nonconformities reported per week (UTC, weeks starting Monday) by source"))


def _rows(review: Any, key: str) -> list[dict[str, Any]] | None:
    """A Pareto's rows; None when the review could not be had (nothing to compare)."""
    return (review.get(key) or []) if isinstance(review, dict) else None


async def _review(api: UserApi, period: Period | None) -> Any:
    if period is None:
        return None
    return await api.get("capa", "/v1/management-review", **period.api())


async def _nc_review(api: UserApi, period: Period | None) -> Any:
    if period is None:
        return None
    return await api.get("nonconformity", "/v1/reports/management-review", **period.api())


async def _weekly(api: UserApi, weeks: int) -> Any:
    return await api.get("nonconformity", "/v1/reports/nonconformities-per-week", weeks=weeks)


@router.get("/dashboard", include_in_schema=False)
async def dashboard(request: Request, _user: CurrentUser, api: Api, since: str = "",
                    until: str = "", weeks: str = "") -> Response:
    since, until = since.strip()[:10], until.strip()[:10]
    n_weeks = int(weeks) if weeks.isdigit() and int(weeks) in WEEK_CHOICES else DEFAULT_WEEKS
    # A period that cannot be read is said at its field; the default one shows meanwhile.
    period, errors = read_period(since, until, today=datetime.now(UTC).date())
    previous = period.previous()
    form = {"since": since, "until": until, "weeks": n_weeks}
    (review, review_error), (before, _), (ncs, ncs_error), (ncs_before, _), \
        (weekly, weekly_error) = await asyncio.gather(
            _fetch(_review(api, period)), _fetch(_review(api, previous)),
            _fetch(_nc_review(api, period)), _fetch(_nc_review(api, previous)),
            _fetch(_weekly(api, n_weeks)))
    if review_error is not None and review_error.status == 422:
        # The CAPA service refused the period (naming query.since / query.until).
        errors = errors or _query_errors(review_error) or {"since": str(review_error)}
    status = 422 if errors else 200
    objectives, objectives_error = await objectives_panel(api)
    panels = [nonconformity_panel(ncs, ncs_before, period, previous, _message(ncs_error)),
              capa_panel(review, before, period, previous, _message(review_error)),
              action_panel(review, _message(review_error))]
    paretos = {"causes": pareto_rows(_rows(review, "root_cause_categories"),
                                     _rows(before, "root_cause_categories"), "cause_category",
                                     period, previous),
               "sources": pareto_rows(_rows(review, "nonconformity_sources"),
                                      _rows(before, "nonconformity_sources"), "source",
                                      period, previous)}
    return render(request, "dash_index.html", status_code=status,
                  paretos=paretos, objectives=objectives, objectives_error=objectives_error,
                  objective_value=shown,
                  title="Management review", form=form, errors=errors,
                  week_choices=WEEK_CHOICES, period=period, previous=previous, panels=panels,
                  review=review, review_error=_message(review_error),
                  charts=review_charts(review) if review else {},
                  weekly=weekly, weekly_error=_message(weekly_error),
                  weekly_chart=weekly_chart(weekly) if weekly else None,
                  week_label=_week_label)
