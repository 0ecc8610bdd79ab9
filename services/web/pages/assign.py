""""Assign to me" and reassignment of an NC or a CAPA (issue 16).

Both are a PATCH of the owner through the owning service's API, with the ETag
the page was shown with as If-Match: assigning something someone changed since
is refused (412) and the page shows the current version. Who may assign is the
services' rule (engineers and managers); the pages show the buttons to them only.
"""

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..client import ApiError
from ..deps import Api, CsrfUser, redirect
from .capas import render_capa
from .forms import posted, refused, text, valid_uuid
from .nonconformities import render_nc

router = APIRouter()


def _owner(values: dict[str, str], subject: str) -> str:
    """"me" is the signed-in person's subject, as the services know them."""
    return subject if values.get("owner", "me") == "me" else text(values.get("owner")) or ""


@router.post("/nonconformities/{nc_id}/assign", include_in_schema=False)
async def assign_nc(request: Request, nc_id: str, user: CsrfUser, api: Api) -> Response:
    nc_id = valid_uuid(nc_id, "nonconformity")
    values = await posted(request)
    owner = _owner(values, user.subject)
    try:
        await api.send("nonconformity", "PATCH", f"/v1/nonconformities/{nc_id}",
                       {"owner": owner}, if_match=values.get("etag") or None)
    except ApiError as exc:
        return await render_nc(request, api, user, nc_id, refused("assign", exc, values))
    user.flash("Assigned to you." if owner == user.subject else f"Assigned to {owner}.", "ok")
    return redirect(f"/nonconformities/{nc_id}")


@router.post("/capas/{capa_id}/assign", include_in_schema=False)
async def assign_capa(request: Request, capa_id: str, user: CsrfUser, api: Api) -> Response:
    capa_id = valid_uuid(capa_id, "CAPA")
    values = await posted(request)
    owner = _owner(values, user.subject)
    body = {"owner": owner} | ({"reason": values["reason"]} if text(values.get("reason"))
                               else {})
    try:
        await api.send("capa", "PATCH", f"/v1/capas/{capa_id}", body,
                       if_match=values.get("etag") or None)
    except ApiError as exc:
        return await render_capa(request, api, user, capa_id, refused("assign", exc, values))
    user.flash("Assigned to you." if owner == user.subject else f"Assigned to {owner}.", "ok")
    return redirect(f"/capas/{capa_id}")
