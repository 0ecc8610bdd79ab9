"""Actions across every CAPA (``/actions``): the list the management review's
"overdue actions" figure and "My work" lead to, filtered as the capa service's
``GET /v1/actions`` allows, soonest due first, a cursor page at a time."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..deps import Api, CurrentUser, render
from .choices import ACTION_KIND_LABELS
from .nonconformities import WHO, WHO_LABELS

router = APIRouter()

PAGE_SIZE = 50
# Only the owner filters the actions API has ("nobody's" is not: every action has one).
ACTION_WHO = tuple((key, label) for key, label in WHO_LABELS if key in ("mine", "not_mine"))


def action_filters(q: Any) -> dict[str, str | None]:
    """The list's filters from its query string; unknown values are dropped."""
    who = q.get("who")
    return {"overdue": "1" if q.get("overdue") == "1" else None,
            # The API's "open": neither done nor cancelled, on a CAPA still open.
            "unfinished": "1" if q.get("unfinished") == "1" else None,
            "who": who if who in dict(ACTION_WHO) else None,
            "owner": (q.get("owner") or "").strip()[:255] or None}


def api_params(filters: dict[str, str | None]) -> dict[str, str]:
    params = dict(overdue="true") if filters["overdue"] else {}
    if filters["unfinished"]:
        params |= dict(open="true")
    if filters["owner"]:
        params["owner"] = filters["owner"]
    return params | WHO.get(filters["who"] or "", {})


@router.get("/actions", include_in_schema=False)
async def actions(request: Request, _user: CurrentUser, api: Api) -> Response:
    filters = action_filters(request.query_params)
    cursor = request.query_params.get("cursor") or None
    page = await api.get("capa", "/v1/actions", limit=PAGE_SIZE, cursor=cursor,
                         **api_params(filters))
    next_query = None
    if page.get("next_cursor"):
        next_query = {k: v for k, v in filters.items() if v} | {"cursor": page["next_cursor"]}
    return render(request, "action_list.html", title="Actions", items=page["items"],
                  total=page.get("total"), filters=filters, next_query=next_query,
                  paged=bool(cursor), who_options=ACTION_WHO, kinds=ACTION_KIND_LABELS)
