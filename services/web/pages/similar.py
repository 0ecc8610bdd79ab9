"""Similar past lessons at hand: the panel beside the 5-Whys form (from the saved
analysis, or from the draft on "Find similar"), the lessons linked to a CAPA, and
the most similar lessons on a nonconformity's page.

Suggestions help, they are not the page: when the CAPA service cannot answer,
the panel says so and the rest of the page works.
"""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..client import ApiError, UserApi
from ..deps import Api, CsrfUser, redirect
from .choices import CAUSE_LABELS
from .forms import FormState, posted, posted_list, refused, valid_uuid
from .why_form import form_from_post
from .wording import plain

router = APIRouter()

# What the page shows, and the most text sent (the API takes 4,000 characters and
# searches only the first words anyway).
SHOWN = 5
MAX_TEXT = 3000
UNAVAILABLE = "Similar past lessons cannot be looked up right now; the rest of the page works."


def draft_text(form: dict[str, Any]) -> str:
    """The words of a 5-Whys draft as the person has written it so far."""
    parts = [form.get("problem_statement", "")]
    for row in form.get("whys", []):
        parts += [row.get("why", ""), row.get("because", "")]
    parts.append(form.get("root_cause", ""))
    return " ".join(p.strip() for p in parts if p and p.strip())[:MAX_TEXT]


def _shown(page: dict[str, Any]) -> list[dict[str, Any]]:
    return [item | {"category_label": CAUSE_LABELS.get(item.get("cause_category") or "",
                                                        item.get("cause_category") or "")}
            for item in page.get("items", [])]


async def _ask(api: UserApi, **params: Any) -> dict[str, Any]:
    try:
        page = await api.get("capa", "/v1/lessons/similar", limit=SHOWN, **params)
    except ApiError as exc:
        if exc.status == 401:  # the app's handler signs the person in again
            raise
        return {"items": [], "terms": [], "error": UNAVAILABLE}
    return {"items": _shown(page), "terms": page.get("terms", []), "error": None}


async def capa_panel(api: UserApi, capa_id: str, *, suggest: bool,
                     draft: dict[str, Any] | None = None) -> dict[str, Any]:
    """The lessons linked to the CAPA and, with ``suggest``, the most similar past
    lessons and root causes to its analysis (the draft's text, when given)."""
    panel: dict[str, Any] = {"suggest": suggest, "items": [], "terms": [], "error": None,
                             "from_draft": draft is not None}
    try:
        panel["links"] = await api.get("capa", f"/v1/capas/{capa_id}/lesson-links")
    except ApiError as exc:
        if exc.status == 401:
            raise
        panel["links"], panel["error"] = [], UNAVAILABLE
    if suggest:
        text = draft_text(draft) if draft is not None else ""
        panel |= await _ask(api, capa_id=capa_id, record="true", **({"text": text} if text else {}))
    return panel


async def nc_panel(api: UserApi, nc: dict[str, Any]) -> dict[str, Any]:
    """The past lessons most similar to what the NC report says."""
    text = " ".join(str(nc.get(k) or "") for k in ("title", "description", "category",
                                                     "affected_item"))
    text = " ".join(text.split())[:MAX_TEXT]
    if not text:
        return {"items": [], "terms": [], "error": None}
    return await _ask(api, text=text)


@router.post("/capas/{capa_id}/lesson-links", include_in_schema=False)
async def link(request: Request, capa_id: str, user: CsrfUser, api: Api) -> Response:
    """"Link to this CAPA" in the panel. The button submits the 5-Whys form (its
    ``form`` attribute), so the draft comes along and is shown again as typed."""
    from .capas import render_capa  # capas imports this module for its panel

    capa_id = valid_uuid(capa_id, "CAPA")
    values = await posted(request)
    lesson_id = values.get("lesson_id", "")
    draft = None
    if "problem_statement" in values:
        draft = form_from_post(values, await posted_list(request, "why"),
                               await posted_list(request, "because"))
    try:
        answer = await api.send("capa", "POST", f"/v1/capas/{capa_id}/lesson-links",
                                {"lesson_id": lesson_id})
    except ApiError as exc:
        if draft is None:
            raise
        # A lesson gone meanwhile (404) is said like any refusal; the draft stays.
        state = FormState(name="similar", message=plain(str(exc)), status=404) \
            if exc.status == 404 else refused("similar", exc, values)
        # The refusal is shown at the top of the page (the panel has no form of its own).
        return await render_capa(request, api, user, capa_id, state, root_form=draft,
                                 similar=await capa_panel(api, capa_id, suggest=True,
                                                          draft=draft))
    number = answer.body.get("lesson_capa_number", "the lesson")
    user.flash(f"The lesson of {number} is linked to this CAPA." if answer.status == 201
               else f"The lesson of {number} was already linked to this CAPA.", "ok")
    if draft is None:
        return redirect(f"/capas/{capa_id}#similar-lessons")
    return await render_capa(request, api, user, capa_id, root_form=draft,
                             similar=await capa_panel(api, capa_id, suggest=True, draft=draft))
