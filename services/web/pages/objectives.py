"""Quality objectives (ISO 9001 6.2): everyone reads them with their progress; quality
managers (and admins) define, change and remove them here (the service checks the role
and the version; the UI only hides the forms from others).

The metrics come from the service (/v1/objective-metrics), never a copy here: a
metric added to the domain shows in the form at once.
"""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..client import ApiError, UserApi
from ..deps import Api, CsrfUser, CurrentUser, redirect, render
from .forms import FormState, posted, refused, text, valid_uuid
from .objectives_panel import objectives_panel, shown, sparkline

router = APIRouter()

# The fields of the definition form; metric and source cannot change once defined
# (the API's PATCH takes neither: progress would no longer compare with itself).
CREATE_FIELDS = ("title", "metric", "source", "target", "deadline", "period_days", "owner")
EDIT_FIELDS = ("title", "target", "deadline", "period_days", "owner")


async def _metrics(api: UserApi) -> list[dict[str, Any]]:
    return list((await api.get("capa", "/v1/objective-metrics"))["items"])


def _number(value: str | None, kind: type[int] | type[float]) -> Any:
    """A typed number as JSON; what is no number goes as typed, so the service
    refuses it on its field (a clear 422) rather than the UI guessing."""
    value = (value or "").strip().replace(",", ".") if kind is float else (value or "").strip()
    try:
        return kind(value)
    except ValueError:
        return value


def _body(values: dict[str, str], fields: tuple[str, ...], *, editing: bool) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for name in fields:
        raw = values.get(name, "")
        if name == "target":
            body[name] = _number(raw, float)
        elif name == "period_days":
            if raw:  # blank: the service's default (30) on create, unchanged on edit
                body[name] = _number(raw, int)
        elif name in ("source", "owner"):
            # On edit a blank owner clears it; a blank source is "every source".
            if text(raw) is not None or (editing and name == "owner"):
                body[name] = text(raw)
        else:
            body[name] = raw
    return body


def _values(objective: dict[str, Any] | None) -> dict[str, str]:
    if objective is None:
        return {"period_days": "30"}
    return {k: _typed(objective.get(k)) for k in CREATE_FIELDS}


def _typed(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:g}" if isinstance(value, int | float) else str(value)


async def _list_page(request: Request, user: Any, api: UserApi, state: FormState) -> Response:
    objectives, error = await objectives_panel(api)
    manager = user.holds_any("manager")
    metrics = await _metrics(api) if manager else []
    return render(request, "objectives.html", status_code=state.status, title="Quality objectives",
                  objectives=objectives, objectives_error=error, manager=manager,
                  metrics=metrics, metric_options=[(m["name"], m["label"]) for m in metrics],
                  state=state, values=state.values or _values(None),
                  objective_value=shown)


@router.get("/objectives", include_in_schema=False)
async def objective_list(request: Request, user: CurrentUser, api: Api) -> Response:
    return await _list_page(request, user, api, FormState())


@router.post("/objectives", include_in_schema=False)
async def define(request: Request, user: CsrfUser, api: Api) -> Response:
    values = await posted(request)
    try:
        made = (await api.send("capa", "POST", "/v1/objectives",
                               json=_body(values, CREATE_FIELDS, editing=False))).body
    except ApiError as exc:
        return await _list_page(request, user, api, refused("objective", exc, values))
    user.flash(f"Objective \u201c{made['title']}\u201d defined.")
    return redirect("/objectives")


async def _edit_page(request: Request, user: Any, api: UserApi, objective_id: str,
                     state: FormState) -> Response:
    objective_id = valid_uuid(objective_id, "quality objective")
    got = await api.get_with_etag("capa", f"/v1/objectives/{objective_id}")
    objective = got.body
    objective["line"] = sparkline([p.get("value") for p in objective["progress"]["trend"]],
                                  float(objective["target"]))
    metric = next((m for m in await _metrics(api) if m["name"] == objective["metric"]), None)
    return render(request, "objective_detail.html", status_code=state.status,
                  title=objective["title"], objective=objective, metric=metric,
                  etag=got.etag or "", manager=user.holds_any("manager"), state=state,
                  values=state.values or _values(objective), objective_value=shown)


@router.get("/objectives/{objective_id}", include_in_schema=False)
async def objective_page(request: Request, objective_id: str, user: CurrentUser,
                         api: Api) -> Response:
    return await _edit_page(request, user, api, objective_id, FormState())


@router.post("/objectives/{objective_id}", include_in_schema=False)
async def edit(request: Request, objective_id: str, user: CsrfUser, api: Api) -> Response:
    values = await posted(request)
    objective_id = valid_uuid(objective_id, "quality objective")
    try:
        saved = (await api.send("capa", "PATCH", f"/v1/objectives/{objective_id}",
                                json=_body(values, EDIT_FIELDS, editing=True),
                                if_match=values.get("etag") or None)).body
    except ApiError as exc:
        return await _edit_page(request, user, api, objective_id,
                                refused("objective", exc, values))
    user.flash(f"Objective \u201c{saved['title']}\u201d saved.")
    return redirect("/objectives")


@router.post("/objectives/{objective_id}/delete", include_in_schema=False)
async def remove(request: Request, objective_id: str, user: CsrfUser, api: Api) -> Response:
    values = await posted(request)
    objective_id = valid_uuid(objective_id, "quality objective")
    try:
        await api.send("capa", "DELETE", f"/v1/objectives/{objective_id}",
                       if_match=values.get("etag") or None)
    except ApiError as exc:
        return await _edit_page(request, user, api, objective_id,
                                refused("remove", exc, {}))
    user.flash("Objective removed.")
    return redirect("/objectives")
