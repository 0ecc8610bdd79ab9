"""Nonconformities: the inbox (filters, cursor pages), reporting one, and its page.

The forms on an NC's page (triage, correction, close, ...) are in nc_actions.py;
they re-render the page through ``render_nc`` when the API refuses.
"""

import asyncio
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from shared.vocabulary import CapaLink

from ..client import ApiError, UserApi
from ..deps import Api, CsrfUser, CurrentUser, redirect, render
from ..session import UserSession
from . import nc_refs
from .choices import (
    CAPA_LINK_LABELS,
    NC_OPEN_STATUSES,
    NC_STATUS_OPTIONS,
    NC_STATUSES,
    SEVERITIES,
    SEVERITY_OPTIONS,
    SOURCE_OPTIONS,
    SOURCES,
)
from .forms import (
    FormState,
    allowed,
    lines,
    new_idempotency_key,
    posted,
    refused,
    text,
    valid_uuid,
    words,
)
from .nc_history import history_entries
from .review_period import day_after, day_filter
from .similar import nc_panel
from .supplier_choice import check_supplier, registered_suppliers
from .suppliers import KEEPERS
from .watches import watch_state

router = APIRouter()

STATUSES = NC_STATUSES
OPEN_STATUSES = NC_OPEN_STATUSES
EDITORS = ("engineer", "manager")
PAGE_SIZE = 50
# The most NCs one bulk form may change (two pages of the inbox).
BULK_LIMIT = 100


# The work-queue views of the owner column, as the API's filters.
WHO: dict[str, dict[str, str]] = {"mine": {"mine": "true"}, "not_mine": {"mine": "false"},
                                  "unassigned": {"assigned": "false"},
                                  "assigned": {"assigned": "true"}}
WHO_LABELS = (("mine", "Mine"), ("unassigned", "Nobody's"), ("assigned", "Someone's"),
              ("not_mine", "Not mine"))
# The API's sort allow-list; the first is its default. Column -> its descending key.
SORTS = ("-created_at", "created_at", "-last_seen", "last_seen", "-severity", "severity")
SORTABLE = {"severity": "-severity", "created": "-created_at", "last_seen": "-last_seen"}


def _sort_links(filters: dict[str, str | None]) -> dict[str, dict[str, str]]:
    """Per sortable column: the address that sorts by it (descending first, then the
    other way), and its aria-sort while it is the order shown."""
    current = filters.get("sort") or SORTS[0]
    links = {}
    for column, descending in SORTABLE.items():
        ascending = descending.removeprefix("-")
        following = ascending if current == descending else descending
        query = {k: v for k, v in filters.items() if v} | {"sort": following}
        aria = {descending: "descending", ascending: "ascending"}.get(current, "")
        links[column] = {"href": "/nonconformities?" + urlencode(query), "aria": aria}
    return links


def inbox_filters(q: Any) -> dict[str, str | None]:
    """The inbox's filters from its query string; unknown values are dropped (a stale
    bookmark is no error)."""
    return {"status": allowed(q.get("status"), STATUSES),
            "severity": allowed(q.get("severity"), SEVERITIES),
            "source": allowed(q.get("source"), SOURCES),
            "category": (q.get("category") or "").strip()[:100] or None,
            "tag": (q.get("tag") or "").strip()[:100] or None,
            "text": (q.get("text") or "").strip()[:200] or None,
            "who": allowed(q.get("who"), tuple(WHO)),
            "owner": (q.get("owner") or "").strip()[:255] or None,
            # Where it stands with its CAPA ("My work" leaves out the escalated ones).
            "capa": allowed(q.get("capa"), tuple(CAPA_LINK_LABELS)),
            # Reported from / to, whole UTC days, the end inclusive (the dashboard's links).
            "since": day_filter(q.get("since")),
            "until": day_filter(q.get("until")),
            "sort": allowed(q.get("sort"), SORTS)}


def api_params(filters: dict[str, str | None]) -> dict[str, str | None]:
    """The list API's filters: ``who`` as its owner filters, the inclusive last day as
    the exclusive ``until`` (the day after)."""
    params = {k: v for k, v in filters.items() if k != "who"} | WHO.get(filters["who"] or "", {})
    if filters.get("until"):
        params["until"] = day_after(str(filters["until"]))
    return params


@router.get("/nonconformities", include_in_schema=False)
async def inbox(request: Request, user: CurrentUser, api: Api) -> Response:
    filters = inbox_filters(request.query_params)
    cursor = request.query_params.get("cursor") or None
    params = api_params(filters)
    page = await api.get("nonconformity", "/v1/nonconformities", limit=PAGE_SIZE,
                         cursor=cursor, **params)
    # The next page keeps the filters and the order; only the cursor moves.
    next_query = None
    if page.get("next_cursor"):
        next_query = {k: v for k, v in filters.items() if v} | {"cursor": page["next_cursor"]}
    return render(request, "nc_list.html", title="Nonconformities", items=page["items"],
                  total=page.get("total"), filters=filters, next_query=next_query,
                  paged=bool(cursor), statuses=NC_STATUS_OPTIONS, severities=SEVERITY_OPTIONS,
                  sources=SOURCE_OPTIONS, who_options=WHO_LABELS,
                  capa_options=tuple(CAPA_LINK_LABELS.items()), sort_links=_sort_links(filters),
                  may_bulk=user.holds_any(*EDITORS), bulk_limit=BULK_LIMIT,
                  back=request.url.path + (f"?{request.url.query}" if request.url.query
                                           else ""))


@router.get("/nonconformities/new", include_in_schema=False)
async def report_form(request: Request, user: CurrentUser, api: Api) -> Response:
    return await _report_page(request, api, user, FormState(name="report"))


async def _report_page(request: Request, api: UserApi, user: UserSession,
                       state: FormState) -> Response:
    # A fresh key each time the form is shown: a corrected resend is another body, and
    # the API refuses a reused key with another body.
    state.values["idempotency_key"] = new_idempotency_key()
    return render(request, "nc_new.html", status_code=state.status,
                  title="Report a nonconformity", state=state, severities=SEVERITY_OPTIONS,
                  sources=SOURCE_OPTIONS, suppliers=await registered_suppliers(api),
                  manager=user.holds_any(*KEEPERS))


@router.post("/nonconformities", include_in_schema=False)
async def report(request: Request, user: CsrfUser, api: Api) -> Response:
    values = await posted(request)
    occurred = text(values.get("occurred_at"))
    body: dict[str, Any] = {
        "title": values.get("title", ""), "severity": values.get("severity", ""),
        "source": values.get("source") or "support",
        "description": text(values.get("description")),
        "category": text(values.get("category")),
        "affected_item": text(values.get("affected_item")),
        "external_ref": text(values.get("external_ref")),
        "supplier_code": text(values.get("supplier_code")),
        "reporter": text(values.get("reporter")),
        # <input type="datetime-local"> has no zone; the label says the time is UTC.
        "occurred_at": f"{occurred}Z" if occurred and len(occurred) <= 19 else occurred,
        "tags": words(values.get("tags")),
        "links": [{"url": url} for url in lines(values.get("links"))],
    }
    # The NC service cannot see the register: the code is checked here (supplier_choice).
    supplier = await check_supplier(api, body["supplier_code"])
    if supplier.error:
        return await _report_page(request, api, user, FormState(
            name="report", values=values, errors={"supplier_code": supplier.error},
            message="Check the supplier.", status=422))
    body["supplier_code"] = supplier.code
    body = {k: v for k, v in body.items() if v is not None}
    try:
        created = await api.send("nonconformity", "POST", "/v1/nonconformities", body,
                                 idempotency_key=values.get("idempotency_key") or None)
    except ApiError as exc:
        # "links.0.url" is shown at the links field, "tags.1" at the tags field.
        state = refused("report", exc, values, aliases={"links": "links", "tags": "tags"})
        return await _report_page(request, api, user, state)
    nc = created.body
    if created.status == 200:
        user.flash(f"{nc['number']} was already reported with this source and reference; "
                   "this is that nonconformity.")
    else:
        user.flash(f"{nc['number']} reported.", "ok")
    return redirect(f"/nonconformities/{nc['id']}")


@router.get("/nonconformities/{nc_id}", include_in_schema=False)
async def nonconformity_page(request: Request, nc_id: str, user: CurrentUser,
                             api: Api) -> Response:
    return await render_nc(request, api, user, nc_id)


async def render_nc(request: Request, api: UserApi, user: UserSession, nc_id: str,
                    state: FormState | None = None) -> Response:
    """The NC page with fresh data; ``state`` carries the form that was refused."""
    nc_id = valid_uuid(nc_id, "nonconformity")
    path = f"/v1/nonconformities/{nc_id}"
    got, history = await asyncio.gather(api.get_with_etag("nonconformity", path),
                                        api.get("nonconformity", f"{path}/history"))
    nc = got.body
    state = state or FormState()
    can = _may(user, nc)
    # A refused form that the fresh page no longer shows (the NC moved on, or the
    # role may not use it) still needs its message: shown at the top instead.
    orphan = state.message if state.name and not can.get(state.name) else ""
    # "Duplicate of" takes a number; the open NCs are its suggestions (nc_refs.py).
    suggestions = await nc_refs.open_suggestions(api, exclude=nc_id) if can["triage"] else []
    return render(request, "nc_detail.html", status_code=state.status,
                  title=f"{nc['number']} {nc['title']}", nc=nc, etag=got.etag or "",
                  history=await history_entries(api, nc, history), state=state, can=can,
                  orphan=orphan,
                  severities=SEVERITY_OPTIONS, capa_key=new_idempotency_key(),
                  nc_suggestions=suggestions,
                  duplicate_number=await nc_refs.number_of(api, nc.get("duplicate_of")),
                  watch=await watch_state(api, "nonconformities", nc_id),
                  similar=await nc_panel(api, nc))


def _may(user: UserSession, nc: dict[str, Any]) -> dict[str, bool]:
    """Which forms to show. Only a hint: the API decides (a 403 is shown as a message)."""
    editor = user.holds_any(*EDITORS)
    is_open = nc["status"] in OPEN_STATUSES
    has_capa = nc["capa_link"] in (CapaLink.requested, CapaLink.open)
    return {
        "triage": editor and is_open,
        "edit": editor and is_open,
        "correction": editor and is_open,
        "close": editor and is_open and not has_capa,
        "reopen": user.holds_any("manager") and not is_open,
        # A CAPA may be opened by hand for an NC that has none (or whose CAPA was cancelled).
        "open_capa": editor and is_open and nc["capa_link"] == CapaLink.none,
        "evidence": editor and is_open,
    }
