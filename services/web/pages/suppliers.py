"""The supplier register: list and search for everyone; register and edit for
quality managers (the service checks the role; the UI shows others no form).
A supplier's own page is supplier_detail.py."""

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..client import ApiError
from ..deps import Api, CsrfUser, CurrentUser, redirect, render
from .forms import FormState, posted, refused, text
from .periods import NOT_FORWARD_MESSAGE, PERIOD_NOT_FORWARD, inclusive_period, last_day
from .wording import plain

router = APIRouter()

CRITICALITIES = (("critical", "critical"), ("high", "high"), ("medium", "medium"),
                 ("low", "low"))
MAX_CONTACTS = 5
# Who keeps the register (the service's rule: api/suppliers.py QualityManager; admin
# holds every role).
KEEPERS = ("manager",)


def needs_manager(request: Request, doing: str) -> Response:
    """The form's page without the form: the API would refuse it on submit, so say
    so before anything is typed (as the review meeting and Open a CAPA do)."""
    return render(request, "supplier_form.html", status_code=403, title=doing,
                  allowed=False, doing=doing)


@router.get("/suppliers", include_in_schema=False)
async def supplier_list(request: Request, user: CurrentUser, api: Api, q: str = "",
                        criticality: str = "", cursor: str = "") -> Response:
    wanted = criticality if criticality in dict(CRITICALITIES) else ""
    page = await api.get("capa", "/v1/suppliers", q=q.strip()[:100], criticality=wanted,
                         cursor=cursor[:32], limit=50)
    return render(request, "supplier_list.html", title="Suppliers", items=page["items"],
                  q=q[:100], criticality=wanted, criticalities=CRITICALITIES,
                  next_cursor=page.get("next_cursor"), manager=user.holds_any(*KEEPERS))


def contacts_from(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"name": values.get(f"contact_name_{i}", ""),
             "email": values.get(f"contact_email_{i}", "")}
            for i in range(MAX_CONTACTS)
            if values.get(f"contact_name_{i}") or values.get(f"contact_email_{i}")]


def _contact_aliases() -> dict[str, str]:
    return {f"contacts.{i}.{part}": f"contact_{part}_{i}" for i in range(MAX_CONTACTS)
            for part in ("name", "email")}


def supplier_form(request: Request, *, supplier: dict[str, Any] | None, state: FormState,
          etag: str = "") -> Response:
    values = state.values or _values(supplier)
    return render(request, "supplier_form.html", status_code=state.status,
                  title=f"Edit {supplier['name']}" if supplier else "Register a supplier",
                  supplier=supplier, values=values, state=state, etag=etag,
                  criticalities=CRITICALITIES, slots=range(MAX_CONTACTS), allowed=True)


def _values(supplier: dict[str, Any] | None) -> dict[str, str]:
    if supplier is None:
        return {"criticality": "medium"}
    values = {k: supplier.get(k) or "" for k in ("code", "name", "supplies", "criticality")}
    for i, contact in enumerate(supplier["contacts"][:MAX_CONTACTS]):
        values[f"contact_name_{i}"], values[f"contact_email_{i}"] = (contact["name"],
                                                                     contact["email"])
    return values


@router.get("/suppliers/new", include_in_schema=False)
async def new_form(request: Request, user: CurrentUser) -> Response:
    if not user.holds_any(*KEEPERS):
        return needs_manager(request, "Registering a supplier")
    return supplier_form(request, supplier=None, state=FormState())


@router.post("/suppliers", include_in_schema=False)
async def register(request: Request, user: CsrfUser, api: Api) -> Response:
    values = await posted(request)
    body = {"code": values.get("code", ""), "name": values.get("name", ""),
            "supplies": text(values.get("supplies")),
            "criticality": values.get("criticality", ""), "contacts": contacts_from(values)}
    try:
        made = (await api.send("capa", "POST", "/v1/suppliers", json=body)).body
    except ApiError as exc:
        return supplier_form(request, supplier=None,
                     state=refused("supplier", exc, values, aliases=_contact_aliases()))
    user.flash(f"Supplier {made['code']} registered.")
    return redirect(f"/suppliers/{quote(made['code'])}")


@router.get("/suppliers/scorecards", include_in_schema=False)
async def scorecards(request: Request, _user: CurrentUser, api: Api, since: str = "",
                     until: str = "") -> Response:
    """Before /suppliers/{code}: "scorecards" is a page, not a code (the register
    refuses it as one). The form's dates are inclusive (pages.periods)."""
    period = inclusive_period(since, until)
    report: dict[str, Any] = {"items": [], "since": "", "until": ""}
    message = ""
    if period.errors:
        message = "Check the period's dates."
    else:
        try:
            report = await api.get("capa", "/v1/suppliers/scorecards", **period.params)
        except ApiError as exc:
            if exc.status != 422:
                raise
            message = (NOT_FORWARD_MESSAGE if exc.type == PERIOD_NOT_FORWARD
                       else plain(str(exc)))
    return render(request, "supplier_scorecards.html", status_code=422 if message else 200,
                  title="Supplier scorecards", report=report, since=period.since,
                  until=period.until, errors=period.errors, message=message,
                  last_day=last_day(str(report.get("until") or "")))


@router.post("/suppliers/{code}", include_in_schema=False)
async def edit(request: Request, code: str, user: CsrfUser, api: Api) -> Response:
    values = await posted(request)
    path = f"/v1/suppliers/{quote(code[:40], safe='')}"
    body = {"name": values.get("name", ""), "supplies": text(values.get("supplies")),
            "criticality": values.get("criticality", ""), "contacts": contacts_from(values)}
    try:
        saved = (await api.send("capa", "PATCH", path, json=body,
                                if_match=values.get("etag") or None)).body
    except ApiError as exc:
        current = await api.get_with_etag("capa", path)
        return supplier_form(request, supplier=current.body, etag=current.etag or "",
                     state=refused("supplier", exc, values, aliases=_contact_aliases()))
    user.flash(f"Supplier {saved['code']} saved.")
    return redirect(f"/suppliers/{quote(saved['code'])}")
