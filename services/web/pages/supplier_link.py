"""Opening a SCAR's response link: ``/supplier-response/<token>``, the address
the e-mail carries, shows what it opens and asks to confirm; only the confirming
POST puts the token into the form's cookie.

Why a confirmation: a GET that set the cookie would let anyone replace the link a
supplier has open with their own (send them a link, or have a page load it: a
login CSRF), and the victim would then type their answer into someone else's
SCAR. The confirm page names the SCAR, the supplier and the due date, and says
when it replaces a request already open in this browser.

The POST cannot be forged from another site: it must echo a nonce that the GET
put into a short-lived ``SameSite=Strict`` cookie (a double submit, compared in
constant time, as the sign-in form does; the staff UI's CSRF token belongs to a
signed-in session, which a supplier does not have). The token travels in the
POST's body, never in a logged path. The confirm page sends no Referer and is
not cached; it loads nothing from elsewhere.
"""

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from ..client import ApiError
from ..deps import redirect, render
from ..session import tokens_match
from .supplier_response import COOKIE, PATH, TOKEN_SHAPE, gone

router = APIRouter()

NONCE_COOKIE = "capaflow_scar_open"
OPEN_PATH = PATH + "/open"
# Long enough to read the page and press the button; a stale page asks to follow
# the e-mail's link again.
NONCE_SECONDS = 600
# The request's first line, as a title (the whole text is on the form).
TITLE_CHARS = 120


def _private(response: Response) -> Response:
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def _title(request_text: str) -> str:
    first = request_text.strip().splitlines()[0] if request_text.strip() else ""
    return first if len(first) <= TITLE_CHARS else first[:TITLE_CHARS - 1].rstrip() + "…"


async def _number_open_now(request: Request, token: str) -> str | None:
    """The number of the SCAR this browser has open, when it is not ``token``'s:
    "" for an open link that no longer opens anything, None for none."""
    current = request.cookies.get(COOKIE, "")
    if not TOKEN_SHAPE.fullmatch(current) or current == token:
        return None
    try:
        scar = (await request.app.state.api.as_link(current).send(
            "GET", "/v1/supplier-response")).body
    except ApiError:
        return ""
    return str(scar["number"])


@router.get(PATH + "/{token}", include_in_schema=False)
async def open_link(request: Request, token: str) -> Response:
    # The shape first: anything else never reaches an HTTP header (ASCII only).
    if not TOKEN_SHAPE.fullmatch(token):
        return _private(gone(request))
    if request.cookies.get(COOKIE) == token:
        return _private(redirect(PATH))  # already the open one: nothing is replaced
    try:
        scar = (await request.app.state.api.as_link(token).send(
            "GET", "/v1/supplier-response")).body
    except ApiError as exc:
        if exc.status in (404, 429):
            return _private(gone(request, exc.status))
        raise
    nonce = secrets.token_urlsafe(32)
    response = render(request, "supplier_link_open.html", title=f"Open {scar['number']}",
                      scar=scar, request_title=_title(str(scar["request"])), token=token,
                      nonce=nonce, replaces=await _number_open_now(request, token),
                      action=OPEN_PATH)
    response.set_cookie(NONCE_COOKIE, nonce, max_age=NONCE_SECONDS, httponly=True,
                        samesite="strict", secure=request.app.state.settings.cookie_secure,
                        path=PATH)
    return _private(response)


@router.post(OPEN_PATH, include_in_schema=False)
async def confirm_open(request: Request, token: Annotated[str, Form()] = "",
                       nonce: Annotated[str, Form()] = "") -> Response:
    if not tokens_match(request.cookies.get(NONCE_COOKIE), nonce):
        return _private(render(
            request, "supplier_response_gone.html", status_code=403,
            title="Open the link again",
            message="This page was not opened from your e-mail's link just now, or it "
                    "waited too long. Follow the link in the e-mail again."))
    if not TOKEN_SHAPE.fullmatch(token):
        return _private(gone(request))
    # Asked again, as the GET did: a link withdrawn or expired since the page was
    # shown must not replace a cookie that still opens a request.
    try:
        await request.app.state.api.as_link(token).send("GET", "/v1/supplier-response")
    except ApiError as exc:
        if exc.status in (404, 429):
            return _private(gone(request, exc.status))
        raise
    response = redirect(PATH)
    # A session cookie (no Max-Age): gone when the browser closes, so a shared
    # computer does not keep the form open; the e-mail's link opens it again.
    response.set_cookie(COOKIE, token, httponly=True, samesite="lax",
                        secure=request.app.state.settings.cookie_secure, path=PATH)
    response.delete_cookie(NONCE_COOKIE, path=PATH)
    return _private(response)
