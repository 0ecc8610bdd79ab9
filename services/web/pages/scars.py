"""Supplier corrective action requests from the CAPA's side: the SCAR list on the
CAPA page (templates/capa_scars.html), the "Send SCAR" form, and a SCAR's page
with the supplier's submitted response and accept / reject / revoke / send the
link again. The link itself is never shown here: only the supplier's e-mail has it.
"""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from shared.vocabulary import ScarStatus

from ..client import ApiError, UserApi
from ..deps import Api, CsrfUser, CurrentUser, redirect, render
from .choices import label
from .forms import FormState, posted, refused, text, valid_uuid

router = APIRouter()

# The supplier is to answer: the link can be sent again.
AWAITING_SUPPLIER = frozenset({ScarStatus.sent, ScarStatus.rejected})

# A download keeps the service's headers: type, name, ETag, and "do not sniff or run".
_PASSED_ON = ("content-type", "content-disposition", "etag", "x-content-type-options",
              "content-security-policy", "cache-control")

EMAIL_WORDS = {"sent": "The e-mail with the response link was sent.",
               "failed": "The SCAR is recorded, but the e-mail could not be sent: {error} "
                         "Use \"Send the link again\" once the mail server answers.",
               "not_configured": "The SCAR is recorded, but no mail server is configured, so "
                                 "no link went out. Ask an administrator to set CAPA_SMTP_HOST, "
                                 "then use \"Send the link again\"."}


def email_outcome(scar: dict[str, Any]) -> str:
    status = scar.get("email_status") or "sent"
    return EMAIL_WORDS[status].format(error=scar.get("email_error") or "")


async def _suppliers(api: UserApi) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await api.get("capa", "/v1/suppliers", limit=200))["items"]
    return items


def contact_groups(capa: dict[str, Any], suppliers: list[dict[str, Any]]
                   ) -> list[tuple[str, list[tuple[str, str]]]]:
    """The contacts a SCAR of ``capa`` may go to, per supplier (by name): only the
    CAPA's supplier's when it names one (the service refuses any other), else
    every supplier's."""
    named = capa.get("supplier_code")
    chosen = [s for s in suppliers if not named or s["code"] == named]
    return [(f"{s['name']} ({s['code']})",
             [(f"{s['code']}|{c['email']}", f"{c['name']} <{c['email']}>")
              for c in s["contacts"]])
            for s in sorted(chosen, key=lambda s: (s["name"].casefold(), s["code"]))
            if s["contacts"]]


async def _send_page(request: Request, api: UserApi, capa_id: str,
                     state: FormState) -> Response:
    capa = await api.get("capa", f"/v1/capas/{capa_id}")
    groups = contact_groups(capa, await _suppliers(api))
    values = dict(state.values)
    if not values.get("recipient") and capa.get("supplier_code") and groups:
        values["recipient"] = groups[0][1][0][0]  # the CAPA's supplier's first contact
    return render(request, "scar_new.html", status_code=state.status,
                  title=f"Send a SCAR for {capa['number']}", capa=capa, groups=groups,
                  state=state, values=values)


@router.get("/capas/{capa_id}/scars/new", include_in_schema=False)
async def send_form(request: Request, capa_id: str, _user: CurrentUser, api: Api) -> Response:
    return await _send_page(request, api, valid_uuid(capa_id, "CAPA"), FormState())


@router.post("/capas/{capa_id}/scars", include_in_schema=False)
async def send(request: Request, capa_id: str, user: CsrfUser, api: Api) -> Response:
    capa_id = valid_uuid(capa_id, "CAPA")
    values = await posted(request)
    code, _, email = values.get("recipient", "").partition("|")
    body = {"supplier_code": code, "contact_email": email,
            "due_date": values.get("due_date", ""), "request": values.get("request", "")}
    try:
        scar = (await api.send("capa", "POST", f"/v1/capas/{capa_id}/scars", json=body)).body
    except ApiError as exc:
        state = refused("scar", exc, values, aliases={"supplier_code": "recipient",
                                                      "contact_email": "recipient"})
        return await _send_page(request, api, capa_id, state)
    user.flash(f"{scar['number']} sent to {scar['contact_name']}. {email_outcome(scar)}",
               "info" if scar.get("email_status") == "sent" else "error")
    return redirect(f"/scars/{scar['id']}")


async def _scar_page(request: Request, api: UserApi, scar_id: str,
                     state: FormState | None = None) -> Response:
    scar = await api.get("capa", f"/v1/scars/{scar_id}")
    capa = await api.get("capa", f"/v1/capas/{scar['capa_id']}")
    state = state or FormState()
    try:  # the supplier by name; its code (the register's key) beside it
        supplier_name = (await api.get("capa", f"/v1/suppliers/{scar['supplier_code']}"))["name"]
    except ApiError:
        supplier_name = None
    status = ScarStatus(scar["status"])
    may = {"decide": status is ScarStatus.responded, "resend": status in AWAITING_SUPPLIER,
           "revoke": status in AWAITING_SUPPLIER or status is ScarStatus.responded}
    return render(request, "scar_detail.html", status_code=state.status,
                  title=f"{scar['number']} · {capa['number']}", scar=scar, capa=capa,
                  state=state, may=may, supplier_name=supplier_name)


@router.get("/scars/{scar_id}", include_in_schema=False)
async def scar_page(request: Request, scar_id: str, _user: CurrentUser, api: Api) -> Response:
    return await _scar_page(request, api, valid_uuid(scar_id, "SCAR"))


@router.post("/scars/{scar_id}/{step}", include_in_schema=False)
async def step(request: Request, scar_id: str, step: str, user: CsrfUser,
               api: Api) -> Response:
    scar_id = valid_uuid(scar_id, "SCAR")
    values = await posted(request)
    if step == "decision":
        body: dict[str, Any] | None = {"decision": values.get("decision", ""),
                                       "reason": text(values.get("reason")),
                                       "due_date": text(values.get("due_date"))}
        body = {k: v for k, v in (body or {}).items() if v is not None}
    elif step == "revocation":
        body = {"reason": values.get("reason", "")}
    elif step == "link":
        body = None
    else:
        raise ApiError(404, "There is no such step.")
    try:
        done = (await api.send("capa", "POST", f"/v1/scars/{scar_id}/{step}", json=body)).body
    except ApiError as exc:
        return await _scar_page(request, api, scar_id, refused(step, exc, values))
    if step == "link":
        user.flash(email_outcome(done), "info" if done.get("email_status") == "sent"
                   else "error")
    else:
        user.flash(f"{done['number']}: {label(done['status'], ScarStatus)}.")
    return redirect(f"/scars/{scar_id}")


@router.get("/scars/{scar_id}/evidence/{attachment_id}", include_in_schema=False)
async def evidence(scar_id: str, attachment_id: str, _user: CurrentUser, api: Api) -> Response:
    path = (f"/v1/scars/{valid_uuid(scar_id, 'SCAR')}/evidence/"
            f"{valid_uuid(attachment_id, 'file')}")
    got = await api.download("capa", path)
    headers = {name: got.headers[name] for name in _PASSED_ON if name in got.headers}
    return Response(got.body, status_code=got.status, headers=headers)
