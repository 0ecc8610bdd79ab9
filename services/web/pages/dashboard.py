"""The management review (ISO 9001 9.3): the CAPA service's figures as numbers and
charts, plus NCs per week by source from the nonconformity service."""

import asyncio
from collections.abc import Awaitable
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup

from .. import charts
from ..client import ApiError, UserApi
from ..deps import Api, CurrentUser, render
from .objectives_panel import objectives_panel, shown
from .wording import plain

router = APIRouter()

WEEK_CHOICES = (4, 8, 12, 26, 52)
DEFAULT_WEEKS = 12


def _period(since: str, until: str) -> tuple[dict[str, str], dict[str, str]]:
    """The API's ``[since, until)`` from the form's inclusive dates, and the field errors.

    People think of "to 31 December" as including that day, so the day after it
    is sent as the exclusive end.
    """
    params: dict[str, str] = {}
    errors: dict[str, str] = {}
    for name, value in (("since", since), ("until", until)):
        if not value:
            continue
        try:
            day = date.fromisoformat(value)
        except ValueError:
            errors[name] = "Give a date as YYYY-MM-DD, e.g. 2026-01-31."
            continue
        params[name] = (day + timedelta(days=1) if name == "until" else day).isoformat()
    if not errors and "since" in params and "until" in params \
            and params["since"] >= params["until"]:
        errors["since"] = "The start must be on or before the end."
    return params, errors


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


def _label(value: str) -> str:
    return value.replace("_", " ")


def _week_label(week_start: str) -> str:
    try:
        return date.fromisoformat(week_start).strftime("%d %b")
    except ValueError:
        return week_start


def review_charts(review: dict[str, Any]) -> dict[str, Markup]:
    causes = [(_label(r["name"]), int(r["count"]), float(r["cumulative_percent"]))
              for r in review.get("root_cause_categories") or []]
    sources = [(_label(r["name"]), int(r["count"]), float(r["cumulative_percent"]))
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
    series = [(source, [int(w["counts"].get(source, 0)) for w in weeks])
              for source in weekly.get("sources") or []]
    return Markup(charts.stacked_bar_chart(
        [_week_label(w["week_start"]) for w in weeks], series, chart_id="chart-weekly",
        title="Nonconformities reported per week (UTC, weeks starting Monday) by source"))


async def _review(api: UserApi, params: dict[str, str]) -> Any:
    return await api.get("capa", "/v1/management-review", **params)


async def _weekly(api: UserApi, weeks: int) -> Any:
    return await api.get("nonconformity", "/v1/reports/nonconformities-per-week", weeks=weeks)


@router.get("/dashboard", include_in_schema=False)
async def dashboard(request: Request, _user: CurrentUser, api: Api, since: str = "",
                    until: str = "", weeks: str = "") -> Response:
    since, until = since.strip()[:10], until.strip()[:10]
    n_weeks = int(weeks) if weeks.isdigit() and int(weeks) in WEEK_CHOICES else DEFAULT_WEEKS
    params, errors = _period(since, until)
    form = {"since": since, "until": until, "weeks": n_weeks}
    if errors:
        # Nothing is asked of the API with a period that cannot be read.
        params = {}
    (review, review_error), (weekly, weekly_error) = await asyncio.gather(
        _fetch(_review(api, params)), _fetch(_weekly(api, n_weeks)))
    if review_error is not None and review_error.status == 422 and params:
        # The CAPA service refused the period (naming query.since / query.until):
        # say so on the form and show the default period meanwhile.
        errors = _query_errors(review_error) or {"since": str(review_error)}
        review, review_error = await _fetch(_review(api, {}))
    status = 422 if errors else 200
    objectives, objectives_error = await objectives_panel(api)
    return render(request, "dash_index.html", status_code=status,
                  objectives=objectives, objectives_error=objectives_error,
                  objective_value=shown,
                  title="Management review", form=form, errors=errors,
                  week_choices=WEEK_CHOICES, review=review, review_error=_message(review_error),
                  charts=review_charts(review) if review else {},
                  weekly=weekly, weekly_error=_message(weekly_error),
                  weekly_chart=weekly_chart(weekly) if weekly else None,
                  week_label=_week_label, label=_label)
