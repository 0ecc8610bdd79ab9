"""Sign in with an API key (or see pages/oidc_sign_in.py); sign out."""

import secrets
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from shared.auth import KeyStore

from ..deps import CsrfRejected, forget_session, redirect, render, session_store, signed_in
from ..session import LOGIN_CSRF_COOKIE, SESSION_COOKIE, tokens_match

router = APIRouter()

# Longer than any key the key store hands out: refused as unknown without hashing it.
MAX_KEY_LENGTH = 200
MAX_NEXT_LENGTH = 2000
ENDED_NOTICE = "Your session ended; sign in again. What you were sending was not saved."


def _safe_next(target: str | None) -> str:
    """Only same-site paths: an open redirect after sign-in would aid phishing."""
    if not target or len(target) > MAX_NEXT_LENGTH or not target.startswith("/") \
            or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else "/"


def _sign_in_page(request: Request, next_path: str, error: str | None = None,
                  status_code: int = 200, notice: str | None = None) -> Response:
    token = secrets.token_urlsafe(32)
    # Someone already signed in sees who they are; signing in again replaces the session.
    login = request.app.state.oidc_login
    response = render(request, "sign_in.html", status_code=status_code,
                      login_csrf=token, next_path=next_path, error=error, notice=notice,
                      oidc_provider=login.provider_name if login else None)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                        secure=request.app.state.settings.cookie_secure, path="/sign-in")
    return response


@router.get("/sign-in", include_in_schema=False)
async def sign_in_form(request: Request, next: str | None = None,
                       expired: str | None = None) -> Response:
    # expired=1: a form was posted after the session ended (deps.return_path).
    return _sign_in_page(request, _safe_next(next),
                         notice=ENDED_NOTICE if expired == "1" else None)


@router.post("/sign-in", include_in_schema=False)
async def sign_in(request: Request, api_key: Annotated[str, Form()] = "",
                  login_token: Annotated[str, Form()] = "",
                  next: Annotated[str, Form()] = "/") -> Response:
    # No max_length on the fields: FastAPI would answer a too-long value with a 422
    # that echoes it. Lengths are judged here instead, with the form's own messages.
    next_path = _safe_next(next)
    if not tokens_match(request.cookies.get(LOGIN_CSRF_COOKIE), login_token):
        return _sign_in_page(request, next_path, "The sign-in form expired; please try again.",
                             status_code=403)
    settings = request.app.state.settings
    principal = None
    if len(api_key) <= MAX_KEY_LENGTH:
        principal = KeyStore.load(Path(settings.credentials_file)).authenticate(api_key.strip())
    if principal is None:
        return _sign_in_page(request, next_path, "That API key is not known.", status_code=401)
    if principal.is_source:
        # A monitoring source's token may only send alerts: every page would be a 403.
        return _sign_in_page(request, next_path, "That is a monitoring source's token; sign "
                             "in with a person's API key.", status_code=403)
    store = session_store(request)
    await store.close(request.cookies.get(SESSION_COOKIE))  # a fresh id on every sign-in
    forget_session(request)
    session = await store.open(api_key.strip(), principal,
                               flash=("info", f"Signed in as {principal.subject}."))
    response = redirect(next_path)
    response.set_cookie(SESSION_COOKIE, session.sid, httponly=True, samesite="lax",
                        secure=settings.cookie_secure, path="/")
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/sign-in")
    return response


@router.get("/sign-out", include_in_schema=False)
async def sign_out_page(request: Request) -> Response:
    """Signing out is a form (POST with the CSRF token); a typed-in or bookmarked
    /sign-out gets that form, or the sign-in page when no one is signed in."""
    if signed_in(request) is None:
        return redirect("/sign-in")
    return render(request, "sign_out.html", title="Sign out")


@router.post("/sign-out", include_in_schema=False)
async def sign_out(request: Request) -> Response:
    user = signed_in(request)
    if user is not None:
        # Only the session's own form may end it (no sign-out by a foreign page).
        given = (await request.form()).get("csrf_token")
        if not tokens_match(user.csrf_token, given if isinstance(given, str) else None):
            raise CsrfRejected()
        await session_store(request).close(user.sid)
        forget_session(request)
    # Without a session there is nothing to end: no "session ended" message needed.
    response = redirect("/sign-in")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
