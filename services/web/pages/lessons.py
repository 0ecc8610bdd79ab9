"""Lessons learned (published when a CAPA closes): search by text, tag and cause
category, page on, and go to the CAPA each lesson came from."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..client import ApiError
from ..deps import Api, CurrentUser, render
from .choices import CAUSE_LABELS, labelled
from .wording import plain

router = APIRouter()

PAGE_SIZE = 20
CAUSE_CATEGORIES = labelled(CAUSE_LABELS)


@router.get("/lessons", include_in_schema=False)
async def lessons(request: Request, _user: CurrentUser, api: Api, text: str = "", tag: str = "",
                  category: str = "", cursor: str = "") -> Response:
    # Bounded as the API bounds them, so an over-long field is trimmed, not refused.
    search = {"text": text.strip()[:200], "tag": tag.strip()[:50],
              "category": category if category in dict(CAUSE_CATEGORIES) else ""}
    errors: dict[str, str] = {}
    page: dict[str, Any] = {"items": [], "next_cursor": None}
    if category and not search["category"]:
        # An unknown category (a hand-edited link): searching without it would show
        # every lesson as if they matched, so say so and ask nothing of the API.
        errors = {"category": "There is no such cause category; choose one from the list."}
    else:
        try:
            page = await api.get("capa", "/v1/lessons", limit=PAGE_SIZE, cursor=cursor[:500],
                                 **search)
        except ApiError as exc:
            if exc.status not in (400, 422):
                raise
            # A field the API refused (or a cursor from elsewhere): say which, show nothing.
            errors = {key.removeprefix("query."): plain(message)
                      for key, message in exc.field_errors().items()} \
                or {"text": plain(str(exc))}
    next_query = None
    if page.get("next_cursor"):
        next_query = {k: v for k, v in search.items() if v} | {"cursor": page["next_cursor"]}
    first_query = {k: v for k, v in search.items() if v}
    return render(request, "lesson_list.html", status_code=422 if errors else 200,
                  title="Lessons learned", items=page["items"], search=search, errors=errors,
                  categories=CAUSE_CATEGORIES, category_names=dict(CAUSE_CATEGORIES),
                  next_query=next_query, first_query=first_query, paged=bool(cursor))
