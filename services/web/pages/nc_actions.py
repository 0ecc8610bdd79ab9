"""The forms on a nonconformity's page: triage, edit, correction, close, reopen,
and opening a CAPA for it by hand.

Each sends the ETag the page was rendered with as If-Match, so an edit made on a
version someone else changed since is refused (412) instead of overwriting theirs.
"""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..client import ApiError, UserApi
from ..deps import Api, CsrfUser, redirect
from ..session import UserSession
from . import nc_refs
from .forms import FormState, capa_request, posted, refused, text, valid_uuid, words
from .nonconformities import render_nc

router = APIRouter()


async def _send(request: Request, api: UserApi, user: UserSession, nc_id: str, form: str,
                action: str, body: dict[str, Any], values: dict[str, str], done: str,
                method: str = "POST") -> Response:
    nc_id = valid_uuid(nc_id, "nonconformity")
    path = f"/v1/nonconformities/{nc_id}" + (f"/{action}" if action else "")
    try:
        await api.send("nonconformity", method, path, body,
                       if_match=values.get("etag") or None)
    except ApiError as exc:
        return await render_nc(request, api, user, nc_id, refused(form, exc, values))
    user.flash(done, "ok")
    return redirect(f"/nonconformities/{nc_id}")


@router.post("/nonconformities/{nc_id}/triage", include_in_schema=False)
async def triage(request: Request, nc_id: str, user: CsrfUser, api: Api) -> Response:
    values = await posted(request)
    decision = values.get("decision", "")
    duplicate_of = None
    # The field stays on the form whatever the decision; the API takes it only
    # with "duplicate", so a leftover number must not be sent with another.
    if decision == "duplicate" and text(values.get("duplicate_of")):
        try:  # a number or words, as people name an NC; the API wants its id
            duplicate_of = await nc_refs.resolve_nc(api, values["duplicate_of"])
        except nc_refs.UnknownReference as exc:
            # One message for one error: at the field (which takes the focus), none above.
            state = FormState(name="triage", values=values, status=422,
                              errors={"duplicate_of": str(exc)})
            return await render_nc(request, api, user, nc_id, state)
    body = {"decision": decision, "reason": values.get("reason", ""),
            "owner": text(values.get("owner")), "duplicate_of": duplicate_of}
    body = {k: v for k, v in body.items() if v is not None}
    return await _send(request, api, user, nc_id, "triage", "triage", body, values,
                       "Triage recorded.")


@router.post("/nonconformities/{nc_id}/edit", include_in_schema=False)
async def edit(request: Request, nc_id: str, user: CsrfUser, api: Api) -> Response:
    values = await posted(request)
    # Only what the form holds; a blank optional field is left as it is.
    body: dict[str, Any] = {"severity": values.get("severity") or None,
                            "category": text(values.get("category")),
                            "affected_item": text(values.get("affected_item")),
                            "reason": text(values.get("reason"))}
    body = {k: v for k, v in body.items() if v is not None}
    body["tags"] = words(values.get("tags"))
    return await _send(request, api, user, nc_id, "edit", "", body, values,
                       "Nonconformity updated.", method="PATCH")


@router.post("/nonconformities/{nc_id}/correction", include_in_schema=False)
async def correction(request: Request, nc_id: str, user: CsrfUser, api: Api) -> Response:
    values = await posted(request)
    return await _send(request, api, user, nc_id, "correction", "correction",
                       {"correction": values.get("correction", "")}, values,
                       "Correction recorded.")


@router.post("/nonconformities/{nc_id}/close", include_in_schema=False)
async def close(request: Request, nc_id: str, user: CsrfUser, api: Api) -> Response:
    values = await posted(request)
    return await _send(request, api, user, nc_id, "close", "close",
                       {"resolution": values.get("resolution", "")}, values,
                       "Nonconformity closed.")


@router.post("/nonconformities/{nc_id}/reopen", include_in_schema=False)
async def reopen(request: Request, nc_id: str, user: CsrfUser, api: Api) -> Response:
    values = await posted(request)
    return await _send(request, api, user, nc_id, "reopen", "reopen",
                       {"reason": values.get("reason", "")}, values, "Nonconformity reopened.")


@router.post("/nonconformities/{nc_id}/capa", include_in_schema=False)
async def open_capa(request: Request, nc_id: str, user: CsrfUser, api: Api) -> Response:
    """Manual escalation: a corrective CAPA addressing this NC (capa API). The NC shows
    the link once the nonconformity service has read the capa.opened event."""
    nc_id = valid_uuid(nc_id, "nonconformity")
    values = await posted(request)
    body = capa_request(values, kind="corrective", nonconformity_id=nc_id)
    try:
        created = await api.send("capa", "POST", "/v1/capas", body,
                                 idempotency_key=values.get("idempotency_key") or None)
    except ApiError as exc:
        return await render_nc(request, api, user, nc_id, refused("open_capa", exc, values))
    capa = created.body
    user.flash(f"{capa['number']} opened for this nonconformity.", "ok")
    return redirect(f"/capas/{capa['id']}")
