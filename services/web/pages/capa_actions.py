"""A CAPA's actions (plan, update, complete with evidence), its effectiveness plan
and the effectiveness verification."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from shared.vocabulary import ActionStatus

from ..client import ApiError, UserApi
from ..deps import Api, CsrfUser, redirect
from ..session import UserSession
from .capas import render_capa
from .forms import FormState, posted, refused, text, valid_uuid
from .signing import review
from .supplier_choice import check_supplier

router = APIRouter()


async def _send(request: Request, api: UserApi, user: UserSession, capa_id: str, form: str,
                method: str, path: str, body: dict[str, Any], values: dict[str, str],
                done: str, anchor: str, *, if_match: str | None = None,
                idempotency_key: str | None = None) -> Response:
    try:
        await api.send("capa", method, f"/v1/capas/{capa_id}{path}", body, if_match=if_match,
                       idempotency_key=idempotency_key)
    except ApiError as exc:
        return await render_capa(request, api, user, capa_id, refused(form, exc, values))
    user.flash(done, "ok")
    return redirect(f"/capas/{capa_id}#{anchor}")


@router.post("/capas/{capa_id}/actions", include_in_schema=False)
async def plan_action(request: Request, capa_id: str, user: CsrfUser, api: Api) -> Response:
    capa_id = valid_uuid(capa_id, "CAPA")
    values = await posted(request)
    body = {"kind": values.get("kind", ""), "description": values.get("description", ""),
            "owner": values.get("owner", ""), "due_date": values.get("due_date", "")}
    return await _send(request, api, user, capa_id, "add_action", "POST", "/actions", body,
                       values, "Action planned.", "actions",
                       idempotency_key=values.get("idempotency_key") or None)


@router.post("/capas/{capa_id}/actions/{action_id}", include_in_schema=False)
async def update_action(request: Request, capa_id: str, action_id: str, user: CsrfUser,
                        api: Api) -> Response:
    capa_id = valid_uuid(capa_id, "CAPA")
    action_id = valid_uuid(action_id, "action")
    values = await posted(request)
    body: dict[str, Any] = {"status": values.get("status") or None,
                            "completion_evidence": text(values.get("completion_evidence"))}
    body = {k: v for k, v in body.items() if v is not None}
    done = ("Action completed." if body.get("status") == ActionStatus.done else "Action updated.")
    return await _send(request, api, user, capa_id, f"action_{action_id}", "PATCH",
                       f"/actions/{action_id}", body, values, done, "actions",
                       if_match=values.get("etag") or None)


@router.post("/capas/{capa_id}/effectiveness-plan", include_in_schema=False)
async def plan_effectiveness(request: Request, capa_id: str, user: CsrfUser,
                             api: Api) -> Response:
    capa_id = valid_uuid(capa_id, "CAPA")
    values = await posted(request)
    body = {"criteria": values.get("criteria", ""), "check_date": values.get("check_date", "")}
    return await _send(request, api, user, capa_id, "plan", "PUT", "/effectiveness-plan", body,
                       values, "Effectiveness check planned.", "effectiveness")


@router.post("/capas/{capa_id}/verifications", include_in_schema=False)
async def verify(request: Request, capa_id: str, user: CsrfUser, api: Api) -> Response:
    capa_id = valid_uuid(capa_id, "CAPA")
    values = await posted(request)
    body = {"result": values.get("result", ""), "evidence": values.get("evidence", "")}
    if values.get("override_reason", "").strip():  # a manager's reason to verify early
        body["override_reason"] = values["override_reason"]
    if values.get("sign_meaning"):
        return await review(request, api, user, capa_id, form="verify",
                            move="effectiveness_verification",
                            path="/effectiveness-verifications", body=body,
                            meaning=values["sign_meaning"])
    return await _send(request, api, user, capa_id, "verify", "POST",
                       "/effectiveness-verifications", body, values,
                       "Effectiveness verification recorded.", "effectiveness",
                       idempotency_key=values.get("idempotency_key") or None)


@router.post("/capas/{capa_id}/edit", include_in_schema=False)
async def edit_planning(request: Request, capa_id: str, user: CsrfUser, api: Api) -> Response:
    """Owner, due date, likelihood, supplier: If-Match with the CAPA's ETag the page
    was read with."""
    capa_id = valid_uuid(capa_id, "CAPA")
    values = await posted(request)
    body: dict[str, Any] = {"owner": text(values.get("owner")),
                            "due_date": text(values.get("due_date")),
                            "supplier_code": text(values.get("supplier_code")),
                            "reason": text(values.get("reason"))}
    if values.get("likelihood", "").isdigit():
        body["likelihood"] = int(values["likelihood"])
    # "Acme Seals GmbH" or "ACME seals" picks the registered code; an unknown one
    # is refused here in the page's words (the service would refuse it too).
    supplier = await check_supplier(api, body["supplier_code"])
    if supplier.error:
        return await render_capa(request, api, user, capa_id, FormState(
            name="edit", values=values, errors={"supplier_code": supplier.error},
            message="Check the supplier.", status=422))
    body["supplier_code"] = supplier.code
    body = {k: v for k, v in body.items() if v is not None}
    return await _send(request, api, user, capa_id, "edit", "PATCH", "", body, values,
                       "CAPA planning updated.", "facts", if_match=values.get("etag") or None)
