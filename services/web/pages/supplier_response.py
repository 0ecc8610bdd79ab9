"""The supplier's response form: public, no account. The SCAR's e-mail links to
``/supplier-response/<token>``; the token is the only credential.

That address shows a confirmation (pages/supplier_link.py); confirming puts the
token into a cookie (HttpOnly, SameSite=Lax, only sent to /supplier-response)
and redirects to the form at ``/supplier-response``, so the token leaves the
address bar, the browser's history and any Referer at once. Lax, not Strict:
the form is reached from the link a mail client opened (another site), and
must carry the cookie; a cross-site POST still does not, so another site
cannot post a form (save, submit, attach, remove) in the supplier's name. The
form calls the CAPA service's supplier endpoints with the token
(``Authorization: SCAR``); the service decides everything, including the one
404 for an unknown, expired or revoked link.
"""

import logging
import re
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from shared.vocabulary import ScarStatus

from ..client import ApiError, LinkApi
from ..deps import redirect, render
from .wording import plain

router = APIRouter()

COOKIE = "capaflow_scar_link"
PATH = "/supplier-response"
# The link token's shape (the capa service's domain.scar.TOKEN_SHAPE): anything
# else — a link a mail client mangled with a non-breaking space — opens nothing and
# never reaches an HTTP header (which takes ASCII only).
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")
MAX_WHYS, MAX_ACTIONS = 10, 20
_IN_PATH = re.compile(re.escape(PATH) + r"/[^ ?\"]*")


class LinkTokensOutOfLogs(logging.Filter):
    """uvicorn's access log writes every request's path; a SCAR link's path is the
    supplier's credential, so it is logged as ``/supplier-response/…`` — however
    the server is started (the image's uvicorn keeps its access log on)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_IN_PATH.sub(PATH + "/…", a) if isinstance(a, str) else a
                                for a in record.args)
        return True


def keep_link_tokens_out_of_logs() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, LinkTokensOutOfLogs) for f in access.filters):
        access.addFilter(LinkTokensOutOfLogs())
NOTES = {"saved": "Your draft is saved. Submit it when it is complete.",
         "submitted": "Thank you: your response was submitted to the quality engineer.",
         "attached": "The file is attached to your response.",
         "removed": "The file is removed from your response."}


def link_cookie(request: Request) -> tuple[str, str]:
    """The link cookie's name and path. Over HTTPS (``cookie_secure``) it is a
    ``__Host-`` cookie: no sibling subdomain can set or shadow it, at the price of
    Path=/ (the prefix requires it) — the token then goes with every request to
    this UI's own host, never elsewhere, and only these pages read it."""
    if request.app.state.settings.cookie_secure:
        return "__Host-" + COOKIE, "/"
    return COOKIE, PATH


def _link(request: Request) -> LinkApi | None:
    token = request.cookies.get(link_cookie(request)[0], "")
    return request.app.state.api.as_link(token) if TOKEN_SHAPE.fullmatch(token) else None


def _file_id(attachment_id: str) -> str | None:
    """The attachment id from the form's address, when it is a UUID. Anything else
    ("%00", "..", a line break) is a file that does not exist: it must never reach
    the API's address, where it would break the URL (a 500) or, as "..", climb to
    another endpoint (the SCAR served as a "download")."""
    try:
        return str(uuid.UUID(attachment_id))
    except ValueError:
        return None


def gone(request: Request, status: int = 404) -> Response:
    message = ("This link does not open a supplier corrective action request: it may have "
               "expired or been withdrawn. Ask your contact at the customer for a new one."
               if status == 404 else
               "Too many requests in a short time. Wait a minute and reload the page.")
    response = render(request, "supplier_response_gone.html", status_code=status,
                      title="Link not valid" if status == 404 else "Slow down", message=message)
    if status == 429:
        response.headers["Retry-After"] = "60"
    return response


@router.get(PATH, include_in_schema=False)
async def form(request: Request, note: str = "") -> Response:
    link = _link(request)
    if link is None:
        return gone(request)
    try:
        scar = (await link.send("GET", "/v1/supplier-response")).body
    except ApiError as exc:
        if exc.status in (404, 429):
            return gone(request, exc.status)
        raise
    return _page(request, scar, values=scar["response"], note=NOTES.get(note, ""))


def _page(request: Request, scar: dict[str, Any], *, values: dict[str, Any],
          errors: dict[str, str] | None = None, message: str = "", note: str = "",
          status: int = 200) -> Response:
    whys = list(values.get("whys") or [])
    whys += [{"why": "", "because": ""}] * max(0, 5 - len(whys))
    actions = list(values.get("corrective_actions") or [])
    actions += [{"description": "", "due_date": ""}] * max(0, 3 - len(actions))
    stage = {ScarStatus.rejected: "returned", ScarStatus.accepted: "concluded",
             ScarStatus.responded: "with_engineer"}.get(ScarStatus(scar["status"]), "")
    return render(request, "supplier_response.html", status_code=status, stage=stage,
                  title=f"Response to {scar['number']}", scar=scar, values=values,
                  whys=whys[:MAX_WHYS], actions=actions[:MAX_ACTIONS], errors=errors or {},
                  message=message, note=note)


def _text(form: Any, name: str) -> str | None:
    value = form.get(name)
    return value.strip() or None if isinstance(value, str) else None


def response_from(form: Any) -> dict[str, Any]:
    """The posted form as the API's response body (empty rows left out)."""
    whys = []
    for i in range(MAX_WHYS):
        why, because = _text(form, f"why_{i}"), _text(form, f"because_{i}")
        if why or because:
            whys.append({"why": why or "", "because": because or ""})
    actions = []
    for i in range(MAX_ACTIONS):
        description, due = _text(form, f"action_{i}"), _text(form, f"action_due_{i}")
        if description or due:
            actions.append({"description": description or "", "due_date": due or ""})
    return {"containment": _text(form, "containment"),
            "problem_statement": _text(form, "problem_statement"),
            "whys": whys, "root_cause": _text(form, "root_cause"),
            "corrective_actions": actions}


def _field_errors(exc: ApiError) -> dict[str, str]:
    """The API's field paths ("body.whys.0.because") as the form's names ("because_0")."""
    out: dict[str, str] = {}
    for error in exc.errors:
        parts = str(error.get("field", "")).removeprefix("body.").split(".")
        name = parts[0]
        if name == "whys" and len(parts) > 2:
            name = f"{parts[2]}_{parts[1]}"
        elif name == "corrective_actions" and len(parts) > 2:
            name = f"action_due_{parts[1]}" if parts[2] == "due_date" else f"action_{parts[1]}"
        out.setdefault(name, plain(str(error.get("message", ""))))
    return out


def _chosen(form: Any) -> UploadFile | None:
    upload = form.get("file")
    return upload if isinstance(upload, UploadFile) and upload.filename else None


async def _refused(request: Request, link: LinkApi, exc: ApiError, body: dict[str, Any] | None,
                   what: str = "") -> Response:
    """The form again after the API refused a step: 404/429 the one dead-link page,
    409/413/415/422 the page with the texts as posted and the reason."""
    if exc.status in (404, 429):
        return gone(request, exc.status)
    if exc.status not in (409, 413, 415, 422):
        raise exc
    scar = (await link.send("GET", "/v1/supplier-response")).body
    reason = plain(str(exc))
    if what == "file":
        return _page(request, scar, values=body or scar["response"], status=422,
                     errors={"file": reason}, message=f"The file was not attached: {reason}")
    if what == "removal":
        return _page(request, scar, values=body or scar["response"], status=409,
                     message=f"The file was not removed: {reason}")
    message = "Please complete the marked fields." if exc.status == 422 else reason
    return _page(request, scar, values=body or scar["response"],
                 errors=_field_errors(exc), message=message, status=exc.status)


async def _save_texts(link: LinkApi, form: Any) -> dict[str, Any] | None:
    """The posted texts saved as the draft (ApiError when refused); None when the
    post held no texts (a removal from a page of an older version)."""
    if "containment" not in form:
        return None
    body = response_from(form)
    await link.send("PUT", "/v1/supplier-response", json=body)
    return body


async def _attach(link: LinkApi, upload: UploadFile) -> None:
    await link.upload("/v1/supplier-response/evidence", filename=upload.filename or "file",
                      content=await upload.read(), content_type=upload.content_type)


@router.post(PATH, include_in_schema=False)
async def save(request: Request) -> Response:
    """Save draft / Submit response: the texts, and a file chosen but not yet
    attached (the supplier meant to send it), then the submission."""
    link = _link(request)
    if link is None:
        return gone(request)
    form = await request.form()
    body = response_from(form)
    submit = form.get("intent") == "submit"
    try:
        await link.send("PUT", "/v1/supplier-response", json=body)
    except ApiError as exc:
        return await _refused(request, link, exc, body)
    upload = _chosen(form)
    if upload is not None:
        try:
            await _attach(link, upload)
        except ApiError as exc:
            return await _refused(request, link, exc, body, "file")
    try:
        if submit:
            await link.send("POST", "/v1/supplier-response/submission")
    except ApiError as exc:
        return await _refused(request, link, exc, body)
    return redirect(f"{PATH}?note={'submitted' if submit else 'saved'}")


@router.post(PATH + "/evidence", include_in_schema=False)
async def attach(request: Request) -> Response:
    """Attach: the texts are saved as the draft first, then the file is attached."""
    link = _link(request)
    if link is None:
        return gone(request)
    form = await request.form()
    body: dict[str, Any] | None = None
    try:
        body = await _save_texts(link, form)
    except ApiError as exc:
        return await _refused(request, link, exc, response_from(form))
    upload = _chosen(form)
    if upload is None:
        return redirect(f"{PATH}?note=saved" if body is not None else PATH)
    try:
        await _attach(link, upload)
    except ApiError as exc:
        return await _refused(request, link, exc, body, "file")
    return redirect(f"{PATH}?note=attached#files")


@router.post(PATH + "/evidence/{attachment_id}/removal", include_in_schema=False)
async def remove(request: Request, attachment_id: str) -> Response:
    """A draft's file removed, the texts saved first; the page comes back at its
    files (the focus there)."""
    link, file_id = _link(request), _file_id(attachment_id)
    if link is None or file_id is None:
        return gone(request)
    form = await request.form()
    body: dict[str, Any] | None = None
    try:
        body = await _save_texts(link, form)
    except ApiError as exc:
        return await _refused(request, link, exc, response_from(form))
    try:
        await link.send("DELETE", f"/v1/supplier-response/evidence/{file_id}")
    except ApiError as exc:
        if exc.status in (404, 422, 429):
            return gone(request, 429 if exc.status == 429 else 404)
        return await _refused(request, link, exc, body, "removal")
    return redirect(f"{PATH}?note=removed#files")


@router.get(PATH + "/evidence/{attachment_id}", include_in_schema=False)
async def download(request: Request, attachment_id: str) -> Response:
    link, file_id = _link(request), _file_id(attachment_id)
    if link is None or file_id is None:
        return gone(request)
    try:
        got = await link.download(f"/v1/supplier-response/evidence/{file_id}")
    except ApiError as exc:
        if exc.status in (404, 422, 429):
            return gone(request, 429 if exc.status == 429 else 404)
        raise
    headers = {name: got.headers[name] for name in (
        "content-type", "content-disposition", "etag", "x-content-type-options",
        "content-security-policy", "cache-control") if name in got.headers}
    return Response(got.body, status_code=got.status, headers=headers)
