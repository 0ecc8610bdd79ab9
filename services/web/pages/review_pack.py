"""The management-review pack page (ISO 9001 9.3): choose a period, see the pack's
figures beside the previous period's, download it as CSV or PDF, and record the
meeting that used it with its decisions (each may open a CAPA or add an action).

The downloads go through this app, which asks the CAPA service with the person's
key for the period the page shows (its links carry the page's inclusive dates,
converted to the API's ``[since, until)`` once, here). The meeting form carries
the period and SHA-256 of the pack the page shows, so the record names the
numbers that were seen; a download is the pack as of its own request, so its
SHA-256 differs from the page's whenever anything (if only the "as of" time)
has changed in between.
"""

import uuid
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from shared.inputs import EARLIEST_DAY, LATEST_DAY

from ..client import ApiError, UserApi
from ..deps import Api, CsrfUser, CurrentUser, redirect, render
from .audit_wording import plural
from .forms import FormState, posted, refused, text

router = APIRouter()

DECISION_ROWS = 3
SEVERITIES = [("critical", "Critical"), ("major", "Major"), ("minor", "Minor"),
              ("observation", "Observation")]
FOLLOW_UPS = [("", "Nothing to start now"), ("capa", "Open a CAPA"),
              ("action", "Add an action to an open CAPA")]
DEFAULT_DAYS = 91
# Comparison figures that are shares (0-1), shown in percent as on the dashboard.
RATE_FIGURES = frozenset({"effectiveness_rate", "reopen_rate"})


def _period(since: str, until: str) -> tuple[dict[str, str], dict[str, str]]:
    """The API's ``[since, until)`` from the form's inclusive dates (the day after
    "to" is the exclusive end, as on the dashboard), and the field errors."""
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
        # The services' range, with room for the day after "to" and a default
        # quarter before it (year 1 or 9999 would overflow the date arithmetic).
        if not EARLIEST_DAY + timedelta(days=DEFAULT_DAYS) <= day < LATEST_DAY:
            errors[name] = (f"Give a date from {EARLIEST_DAY + timedelta(days=DEFAULT_DAYS)} "
                            f"to {LATEST_DAY - timedelta(days=1)}.")
            continue
        params[name] = (day + timedelta(days=1) if name == "until" else day).isoformat()
    return params, errors


def _days(since: str, until: str) -> tuple[str, str, dict[str, str], dict[str, str]]:
    """The form's inclusive dates (default: the quarter up to today), the API's
    ``[since, until)`` and the field errors (then the default quarter is shown, and
    the downloads are of that quarter too)."""
    since, until = since.strip()[:10], until.strip()[:10]
    params, errors = _period(since, until)
    if errors:
        return since, until, _days("", "")[2], errors
    end = date.fromisoformat(params["until"]) if "until" in params \
        else date.today() + timedelta(days=1)
    start = date.fromisoformat(params["since"]) if "since" in params \
        else end - timedelta(days=DEFAULT_DAYS)
    if start >= end:
        return since, until, _days("", "")[2], {
            "since": "The start must be on or before the end."}
    return (start.isoformat(), (end - timedelta(days=1)).isoformat(),
            {"since": start.isoformat(), "until": end.isoformat()}, {})


async def _page(request: Request, api: UserApi, since: str, until: str,
                state: FormState | None = None) -> Response:
    shown_since, shown_until, params, errors = _days(since, until)
    pack: dict[str, Any] | None = None
    pack_error = None
    try:
        pack = await api.get("capa", "/v1/management-review/pack", **params)
    except ApiError as exc:
        if exc.status == 401:
            raise
        pack_error = str(exc)
    try:
        meetings = (await api.get("capa", "/v1/management-reviews", limit=10))["items"]
    except ApiError as exc:
        if exc.status == 401:
            raise
        meetings = []
    # The downloads' links carry the inclusive dates of the pack shown (not the
    # API's exclusive end): ``_download`` converts them once, as this page did.
    first = params["since"]
    last = (date.fromisoformat(params["until"]) - timedelta(days=1)).isoformat()
    state = state or FormState(name="meeting")
    status = state.status if state.message or state.errors else (422 if errors else 200)
    return render(request, "review_pack.html", status_code=status, title="Review pack",
                  form={"since": shown_since, "until": shown_until}, errors=errors,
                  pack=pack, pack_error=pack_error,
                  query=urlencode({"since": first, "until": last}),
                  comparison=[shown_row(r) for r in (pack or {}).get("comparison", [])],
                  last_day=last_day, plural=plural,
                  meetings=meetings, state=state,
                  capa_choices=[(c["id"], f"{c['number']} {c['title'][:60]}")
                                for c in (pack or {}).get("open_capas", {}).get("items", [])],
                  rows=range(1, DECISION_ROWS + 1),
                  severities=SEVERITIES, follow_ups=FOLLOW_UPS, new_key=uuid.uuid4().hex)


@router.get("/review-pack", include_in_schema=False)
async def review_pack(request: Request, _user: CurrentUser, api: Api, since: str = "",
                      until: str = "") -> Response:
    return await _page(request, api, since, until)


def last_day(until: str) -> str:
    """The last day a ``[since, until)`` period covers, as people read a period
    ("1 to 30 November"): the day before a midnight end, else the end's own day."""
    end = until.replace("Z", "+00:00")
    if len(end) <= 10:
        return (date.fromisoformat(end) - timedelta(days=1)).isoformat()
    moment = datetime.fromisoformat(end)
    return (moment - timedelta(microseconds=1)).date().isoformat()


def _rate(value: Any, change: bool = False) -> Any:
    """As the CSV and PDF show it (capa's domain.review_labels.percent)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return value
    if not change:
        return f"{value * 100:.1f} %"
    points = round(value * 100, 1)
    return f"{abs(points):.1f} points {'up' if points > 0 else 'down'}" if points \
        else "no change"


def shown_row(row: dict[str, Any]) -> dict[str, Any]:
    """A comparison row as people read it: shares in percent (the dashboard's way)."""
    if row.get("figure") not in RATE_FIGURES:
        return row
    return row | {"current": _rate(row.get("current")), "previous": _rate(row.get("previous")),
                  "change": _rate(row.get("change"), change=True)}


async def _download(api: UserApi, kind: str, since: str, until: str) -> Response:
    _, _, params, errors = _days(since, until)
    if errors:
        raise ApiError(422, next(iter(errors.values())))
    answer = await api.download("capa", f"/v1/management-review/pack.{kind}", **params)
    headers = {k: v for k, v in answer.headers.items()
               if k.lower() in ("content-disposition", "x-pack-sha256")}
    return Response(answer.body, media_type=answer.headers.get("content-type"),
                    headers=headers)


@router.get("/review-pack.csv", include_in_schema=False)
async def pack_csv(_user: CurrentUser, api: Api, since: str = "", until: str = "") -> Response:
    return await _download(api, "csv", since, until)


@router.get("/review-pack.pdf", include_in_schema=False)
async def pack_pdf(_user: CurrentUser, api: Api, since: str = "", until: str = "") -> Response:
    return await _download(api, "pdf", since, until)


def names(value: str | None) -> list[str]:
    """Attendees typed one per line or separated by commas (names have spaces)."""
    return [n.strip() for n in (value or "").replace("\n", ",").split(",") if n.strip()]


def _decision(values: dict[str, str], i: int) -> dict[str, Any] | None:
    """Decision row ``i`` as the API takes it; None when the row was left empty."""
    decision_text = text(values.get(f"text_{i}"))
    if decision_text is None:
        return None
    decision: dict[str, Any] = {"text": decision_text, "owner": values.get(f"owner_{i}", ""),
                                "due_date": values.get(f"due_{i}", "")}
    follow_up = values.get(f"follow_up_{i}", "")
    if follow_up == "capa":
        decision["follow_up"] = {"opens": "capa",
                                 "title": values.get(f"capa_title_{i}") or decision_text[:300],
                                 "severity": values.get(f"severity_{i}") or "major"}
    elif follow_up == "action":
        decision["follow_up"] = {"opens": "action", "capa_id": values.get(f"capa_id_{i}", ""),
                                 "description": decision_text}
    return decision


@router.post("/review-pack/meetings", include_in_schema=False)
async def record_meeting(request: Request, user: CsrfUser, api: Api) -> Response:
    values = await posted(request)
    decisions = {i: d for i in range(1, DECISION_ROWS + 1)
                 if (d := _decision(values, i)) is not None}
    body = {"held_on": values.get("held_on", ""), "attendees": names(values.get("attendees")),
            "pack": {"since": values.get("pack_since", ""), "until": values.get("pack_until", ""),
                     "sha256": values.get("pack_sha256", "")},
            "notes": text(values.get("notes")), "decisions": list(decisions.values())}
    # API fields of decision n (its position among the rows filled in) -> the form's.
    aliases = {"attendees": "attendees", "held_on": "held_on", "notes": "notes"}
    for n, i in enumerate(decisions):
        for api_field, form_field in (("text", "text"), ("owner", "owner"), ("due_date", "due"),
                                      ("follow_up", "follow_up")):
            aliases[f"decisions.{n}.{api_field}"] = f"{form_field}_{i}"
        aliases[f"decisions.{n}.follow_up.title"] = f"capa_title_{i}"
    try:
        await api.send("capa", "POST", "/v1/management-reviews", body,
                       idempotency_key=values.get("idempotency_key") or None)
    except ApiError as exc:
        state = refused("meeting", exc, values, aliases=aliases)
        return await _page(request, api, values.get("since", ""), values.get("until", ""),
                           state)
    user.flash(f"Review meeting of {body['held_on']} recorded with "
               f"{plural(len(decisions), 'decision')}.", "ok")
    return redirect("/review-pack?" + urlencode({"since": values.get("since", ""),
                                                 "until": values.get("until", "")}))
