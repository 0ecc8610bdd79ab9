"""Sign in with an API key; sign out."""

import secrets
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from shared.auth import KeyStore

from ..deps import CsrfUser, redirect, render
from ..session import LOGIN_CSRF_COOKIE, SESSION_COOKIE, SessionStore, tokens_match

router = APIRouter()


def _safe_next(target: str | None) -> str:
    """Only same-site paths: an open redirect after sign-in would aid phishing."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else "/"


def _sign_in_page(request: Request, next_path: str, error: str | None = None,
                  status_code: int = 200) -> Response:
    token = secrets.token_urlsafe(32)
    # Someone already signed in sees who they are; signing in again replaces the session.
    response = render(request, "sign_in.html", status_code=status_code,
                      login_csrf=token, next_path=next_path, error=error)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                        secure=request.app.state.settings.cookie_secure, path="/sign-in")
    return response


@router.get("/sign-in", include_in_schema=False)
async def sign_in_form(request: Request, next: str | None = None) -> Response:
    return _sign_in_page(request, _safe_next(next))


@router.post("/sign-in", include_in_schema=False)
async def sign_in(request: Request, api_key: Annotated[str, Form(max_length=200)] = "",
                  login_token: Annotated[str, Form(max_length=100)] = "",
                  next: Annotated[str, Form(max_length=2000)] = "/") -> Response:
    next_path = _safe_next(next)
    if not tokens_match(request.cookies.get(LOGIN_CSRF_COOKIE), login_token):
        return _sign_in_page(request, next_path, "The sign-in form expired; please try again.",
                             status_code=403)
    settings = request.app.state.settings
    principal = KeyStore.load(Path(settings.credentials_file)).authenticate(api_key.strip())
    if principal is None:
        return _sign_in_page(request, next_path, "That API key is not known.", status_code=401)
    store: SessionStore = request.app.state.sessions
    store.close(request.cookies.get(SESSION_COOKIE))  # a fresh id on every sign-in
    sid, session = store.open(api_key.strip(), principal)
    session.flash(f"Signed in as {principal.subject}.")
    response = redirect(next_path)
    response.set_cookie(SESSION_COOKIE, sid, httponly=True, samesite="lax",
                        secure=settings.cookie_secure, path="/")
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/sign-in")
    return response


@router.post("/sign-out", include_in_schema=False)
async def sign_out(request: Request, _: CsrfUser) -> Response:
    request.app.state.sessions.close(request.cookies.get(SESSION_COOKIE))
    response = redirect("/sign-in")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
