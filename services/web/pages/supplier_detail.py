"""A supplier's own page, for everyone signed in: who they are, what they
supply, how critical they are, whom to contact, the NCs, CAPAs and SCARs naming
them and their scorecard for the last 90 days. Quality managers get the edit
form at /suppliers/{code}/edit; others get the page's "needs the manager role".

A code NCs name but the register lacks gets the page too (its NCs, marked "not
in the register"), so the links from an NC never lead nowhere.
"""

import asyncio
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from shared import vocabulary_labels as labels

from ..client import ApiError
from ..deps import Api, CurrentUser, render
from .choices import label
from .forms import FormState
from .suppliers import KEEPERS, needs_manager, supplier_form

router = APIRouter()

# Contacts are work addresses a SCAR goes to: shown to the people who send SCARs
# and keep the register, not to everyone who can read the page.
CONTACT_READERS = ("engineer", "manager")


def _path(code: str) -> str:
    return f"/v1/suppliers/{quote(code[:40], safe='')}"


@router.get("/suppliers/{code}", include_in_schema=False)
async def supplier_page(request: Request, code: str, user: CurrentUser, api: Api) -> Response:
    records, report = await asyncio.gather(
        api.get("capa", f"{_path(code)}/records"),
        _scorecards(api))
    supplier = records["supplier"]
    card = next((c for c in report.get("items", [])
                 if c["supplier_code"] == records["code"]), None)
    title = supplier["name"] if supplier else records["code"]
    return render(request, "supplier_detail.html", title=title, code=records["code"],
                  supplier=supplier, records=records, card=card, report=report,
                  criticality=_criticality(supplier),
                  scars=[{**s, "status_label": labels.SCAR_STATUS.get(s["status"], s["status"])}
                         for s in records["scars"]],
                  show_contacts=user.holds_any(*CONTACT_READERS),
                  keeper=user.holds_any(*KEEPERS))


async def _scorecards(api: Any) -> dict[str, Any]:
    """The default period's cards (the last 90 days); none when the service
    refuses: the rest of the page still helps."""
    try:
        report: dict[str, Any] = await api.get("capa", "/v1/suppliers/scorecards")
    except ApiError as exc:
        if exc.status >= 500:
            raise
        return {"items": []}
    return report


def _criticality(supplier: dict[str, Any] | None) -> str:
    if not supplier:
        return ""
    value = str(supplier.get("criticality") or "")
    return labels.SUPPLIER_CRITICALITY.get(value) or label(value, "criticality")


@router.get("/suppliers/{code}/edit", include_in_schema=False)
async def edit_form(request: Request, code: str, user: CurrentUser, api: Api) -> Response:
    if not user.holds_any(*KEEPERS):
        return needs_manager(request, "Editing a supplier")
    got = await api.get_with_etag("capa", _path(code))
    return supplier_form(request, supplier=got.body, state=FormState(), etag=got.etag or "")
