"""Sign in at the company's OpenID Connect provider (services/web/oidc_login.py).

``/sign-in/oidc`` starts the authorization-code flow: state, nonce and the PKCE
code_verifier are kept in the UI's own store, found through an HttpOnly cookie
that only this browser holds, so a callback another browser was lured into
(login CSRF) finds no sign-in to finish. ``/sign-in/oidc/callback`` checks the
state, trades the code for tokens and opens the session.
"""

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from shared.oidc import ProviderUnavailable

from ..deps import forget_session, redirect, session_store, signed_in
from ..oidc_login import OidcLogin, SignInFailed
from ..session import SESSION_COOKIE, tokens_match
from .auth import _safe_next, _sign_in_page
from .signing import FLOW_COOKIE, apply_signed
from .signing import redirect_uri as _redirect_uri

router = APIRouter()

UNREACHABLE = "The sign-in provider cannot be reached; try again in a moment."


def _login(request: Request) -> OidcLogin | None:
    login: OidcLogin | None = request.app.state.oidc_login
    return login


@router.get("/sign-in/oidc", include_in_schema=False)
async def start(request: Request, next: str | None = None) -> Response:
    login = _login(request)
    next_path = _safe_next(next)
    if login is None:
        return redirect(f"/sign-in?next={next_path}")
    flow, state, nonce, verifier = await session_store(request).begin_sign_in(next_path)
    try:
        url = await login.authorization_url(redirect_uri=_redirect_uri(request), state=state,
                                            nonce=nonce, code_verifier=verifier)
    except ProviderUnavailable:
        return _sign_in_page(request, next_path, UNREACHABLE, status_code=503)
    response = RedirectResponse(url, status_code=303)
    # Lax: the provider's redirect back is a top-level GET, which carries it.
    response.set_cookie(FLOW_COOKIE, flow, httponly=True, samesite="lax", max_age=600,
                        secure=request.app.state.settings.cookie_secure, path="/sign-in/oidc")
    return response


@router.get("/sign-in/oidc/callback", name="oidc_callback", include_in_schema=False)
async def callback(request: Request, code: str | None = None, state: str | None = None,
                   error: str | None = None) -> Response:
    login = _login(request)
    if login is None:
        return redirect("/sign-in")
    store = session_store(request)
    flow = await store.take_flow(request.cookies.get(FLOW_COOKIE))
    if flow is None or not tokens_match(flow.state, state):
        response = _sign_in_page(request, "/", "That sign-in link is not this browser's, or "
                                 "it expired; please sign in again.", status_code=400)
        response.delete_cookie(FLOW_COOKIE, path="/sign-in/oidc")
        return response
    nonce, verifier, next_path = flow.nonce, flow.verifier, flow.next_path
    if error or not code:
        # E.g. access_denied: the person cancelled at the provider.
        return _sign_in_page(request, next_path, "The sign-in was not completed at "
                             f"{login.provider_name}.", status_code=401)
    try:
        principal, tokens = await login.finish(redirect_uri=_redirect_uri(request), code=code,
                                               code_verifier=verifier, nonce=nonce)
    except SignInFailed as exc:
        return _sign_in_page(request, next_path, str(exc), status_code=401)
    except ProviderUnavailable:
        return _sign_in_page(request, next_path, UNREACHABLE, status_code=503)
    if flow.signing is not None:  # a re-authentication to sign (pages/signing.py)
        response = await apply_signed(request, signed_in(request), flow.signing,
                                      principal.subject, tokens)
        response.delete_cookie(FLOW_COOKIE, path="/sign-in/oidc")
        return response
    if not principal.roles:
        return _sign_in_page(request, next_path, f"You are signed in at {login.provider_name} "
                             "but hold no CAPAflow role; ask an administrator for one.",
                             status_code=403)
    await store.close(request.cookies.get(SESSION_COOKIE))  # a fresh id on every sign-in
    forget_session(request)
    who = principal.name or principal.subject
    session = await store.open(tokens.access_token, principal,
                               flash=("info", f"Signed in as {who}."),
                               refresh_token=tokens.refresh_token, expires_at=tokens.expires_at)
    response = redirect(next_path)
    response.set_cookie(SESSION_COOKIE, session.sid, httponly=True, samesite="lax",
                        secure=request.app.state.settings.cookie_secure, path="/")
    response.delete_cookie(FLOW_COOKIE, path="/sign-in/oidc")
    return response
