"""Opening a SCAR's response link: ``/supplier-response/<token>``, the address
the e-mail carries, shows what it opens and asks to confirm; only the confirming
POST puts the token into the form's cookie.

Why a confirmation: a GET that set the cookie would let anyone replace the link a
supplier has open with their own (send them a link, or have a page load it: a
login CSRF), and the victim would then type their answer into someone else's
SCAR. The confirm page names the SCAR, the supplier and the due date, and says
when it replaces a request already open in this browser.

The POST cannot be forged from another site: it must carry the nonce its page
got, both in the form and in a short-lived ``SameSite=Strict`` cookie (a double
submit), and the nonce is the server's own: a random part, an expiry and an
HMAC under the UI's key (services/web/server_keys.py) over both and the link's
token digest. So a cookie value of an attacker's choosing does not pass, nor
does the nonce of link X's page confirm link Y. The cookie is named per link (a
prefix of the token's digest), so two confirm pages in two tabs both work; over
HTTPS it is a ``__Host-`` cookie, as the link cookie is. The token travels in the
POST's body, never in a logged path. The confirm page sends no Referer and is
not cached; it loads nothing from elsewhere.

What it does not stop: whoever can write cookies on the UI's own host (another
service there, or a network attacker against plain HTTP) can set the link cookie
itself; ``__Host-`` under HTTPS keeps sibling subdomains out.
"""

import hashlib
import hmac
import secrets
import time
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from ..client import ApiError
from ..deps import redirect, render
from ..session import tokens_match
from .supplier_response import PATH, TOKEN_SHAPE, gone, link_cookie

router = APIRouter()

NONCE_COOKIE = "capaflow_scar_open"
OPEN_PATH = PATH + "/open"
# Long enough to read the page and press the button; a stale page asks to follow
# the e-mail's link again.
NONCE_SECONDS = 600
# The request's first line, as a title (the whole text is on the form).
TITLE_CHARS = 120


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _nonce_cookie(request: Request, token: str) -> tuple[str, str]:
    """The nonce cookie of this link's page (name, path): one per link, so a
    second confirm page in another tab leaves the first one's in place."""
    name = f"{NONCE_COOKIE}_{_digest(token)[:12]}"
    if request.app.state.settings.cookie_secure:
        return "__Host-" + name, "/"
    return name, PATH


async def _mac(request: Request, body: str) -> str:
    key = await request.app.state.server_keys.key("scar-link-nonce")
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


async def _make_nonce(request: Request, token: str) -> str:
    body = f"{int(time.time()) + NONCE_SECONDS}.{secrets.token_urlsafe(24)}"
    return f"{body}.{await _mac(request, body + '.' + _digest(token))}"


async def _nonce_holds(request: Request, token: str, nonce: str) -> bool:
    """The posted nonce is the server's, for this token, not expired."""
    body, _, mac = nonce.rpartition(".")
    expires = body.partition(".")[0]
    if not expires.isdigit() or int(expires) < time.time():
        return False
    return hmac.compare_digest(mac, await _mac(request, body + "." + _digest(token)))


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
    current = request.cookies.get(link_cookie(request)[0], "")
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
    if request.cookies.get(link_cookie(request)[0]) == token:
        return _private(redirect(PATH))  # already the open one: nothing is replaced
    try:
        scar = (await request.app.state.api.as_link(token).send(
            "GET", "/v1/supplier-response")).body
    except ApiError as exc:
        if exc.status in (404, 429):
            return _private(gone(request, exc.status))
        raise
    nonce = await _make_nonce(request, token)
    response = render(request, "supplier_link_open.html", title=f"Open {scar['number']}",
                      scar=scar, request_title=_title(str(scar["request"])), token=token,
                      nonce=nonce, replaces=await _number_open_now(request, token),
                      action=OPEN_PATH)
    name, path = _nonce_cookie(request, token)
    response.set_cookie(name, nonce, max_age=NONCE_SECONDS, httponly=True,
                        samesite="strict", secure=request.app.state.settings.cookie_secure,
                        path=path)
    return _private(response)


@router.post(OPEN_PATH, include_in_schema=False)
async def confirm_open(request: Request, token: Annotated[str, Form()] = "",
                       nonce: Annotated[str, Form()] = "") -> Response:
    if not TOKEN_SHAPE.fullmatch(token):
        return _private(gone(request))
    nonce_name, nonce_path = _nonce_cookie(request, token)
    if not (tokens_match(request.cookies.get(nonce_name), nonce)
            and await _nonce_holds(request, token, nonce)):
        return _private(render(
            request, "supplier_response_gone.html", status_code=403,
            title="Open the link again",
            message="This page was not opened from your e-mail's link just now, or it "
                    "waited too long. Follow the link in the e-mail again."))
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
    name, path = link_cookie(request)
    response.set_cookie(name, token, httponly=True, samesite="lax",
                        secure=request.app.state.settings.cookie_secure, path=path)
    response.delete_cookie(nonce_name, path=nonce_path,
                           secure=request.app.state.settings.cookie_secure)
    return _private(response)
