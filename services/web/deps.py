"""What every page handler needs: the signed-in person, CSRF checks, rendering."""

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from shared.oidc import ProviderUnavailable

from .client import ApiClient, UserApi
from .oidc_login import OidcLogin, needs_refresh
from .pages.choices import TEMPLATE_VOCABULARY, label
from .session import SessionStore, UserSession, tokens_match

# The Unicode bidirectional embedding, override and isolate controls. In a title
# they make "report\u202egnp.exe" read as "reportexe.png" ("Trojan Source"); no
# quality record needs them (right-to-left scripts display without them), so no
# page shows them — as the review pack's PDF drops them too.
_BIDI_CONTROLS = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))


def _shown(value: Any) -> Any:
    """Every ``{{ … }}`` of every template passes here: text from a person or a
    service loses its bidi controls; the app's own markup is left as it is."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return value.translate(_BIDI_CONTROLS)
    return value


templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
# Set before any template is compiled: finalize is compiled into each template.
templates.env.finalize = _shown
# Block tags leave no blank lines behind: the HTML stays readable in "view source".
templates.env.trim_blocks = True
templates.env.lstrip_blocks = True
templates.env.globals.update(TEMPLATE_VOCABULARY)
# Every value of a vocabulary is shown by its one label (choices.LABELLED).
templates.env.filters["label"] = label


class SignInRequired(Exception):
    """No session. ``lost``: a form was being sent, so its text is gone and the
    sign-in page says so."""

    def __init__(self, next_path: str, lost: bool = False) -> None:
        self.next_path = next_path
        self.lost = lost


class CsrfRejected(Exception):
    """A state-changing request without this session's CSRF token."""


def session_store(request: Request) -> SessionStore:
    return request.app.state.sessions  # type: ignore[no-any-return]


def signed_in(request: Request) -> UserSession | None:
    """The session the middleware read for this request (session_middleware.py)."""
    return getattr(request.state, "web_session", None)


def forget_session(request: Request) -> None:
    """After the session was closed: nothing of it is shown or saved any more."""
    request.state.web_session = None


# The areas whose records have a page at /{area}/{id} and a create form at /{area}/new.
RECORD_AREAS = ("capas", "nonconformities", "subscriptions")


def form_page(path: str) -> str | None:
    """The page a form posting to ``path`` sits on: "/capas/{id}/root-cause" ->
    "/capas/{id}", "/capas" (create) -> "/capas/new"; None for other addresses.

    Form addresses take POST only: sending someone to one with GET (after sign-in,
    or on reload) would answer 405, so they go to the form's page instead.
    """
    parts = [p for p in path.split("/") if p]
    if not parts or parts[0] not in RECORD_AREAS:
        return None
    if len(parts) == 1 or parts[1] == "new":
        return f"/{parts[0]}/new"
    if parts[1] == "bulk":  # the inbox's bulk form sits on the inbox
        return f"/{parts[0]}"
    return f"/{parts[0]}/{quote(parts[1], safe='')}"


def return_path(request: Request) -> tuple[str, bool]:
    """Where to come back to after signing in, and whether a posted form was lost."""
    if request.method in ("GET", "HEAD"):
        return request.url.path + (f"?{request.url.query}" if request.url.query else ""), False
    return form_page(request.url.path) or "/", True


def current_user(request: Request) -> UserSession:
    user = signed_in(request)
    if user is None:
        raise SignInRequired(*return_path(request))
    return user


async def user_api(request: Request,
                   user: Annotated[UserSession, Depends(current_user)]) -> UserApi:
    client: ApiClient = request.app.state.api
    await _fresh_token(request, user)
    return client.as_user(user.key)


async def _fresh_token(request: Request, user: UserSession) -> None:
    """Signed in at the provider: a new access token shortly before the old one
    expires. A refresh the provider refuses (signed out there) ends the session."""
    login: OidcLogin | None = request.app.state.oidc_login
    if login is None or not user.refresh_token or not needs_refresh(user.expires_at):
        return
    try:
        tokens = await login.refresh(user.refresh_token)
    except ProviderUnavailable:
        return  # the current token may still do; the services judge it
    if tokens is None:
        await session_store(request).close(user.sid)
        forget_session(request)
        raise SignInRequired(*return_path(request))
    await session_store(request).renew_tokens(user, tokens.access_token, tokens.refresh_token,
                                              tokens.expires_at)


async def csrf_checked(request: Request,
                       user: Annotated[UserSession, Depends(current_user)]) -> UserSession:
    """For every POST: the form's token must be this session's (or the htmx header)."""
    form = await request.form()
    given = form.get("csrf_token") or request.headers.get("x-csrf-token")
    if not tokens_match(user.csrf_token, given if isinstance(given, str) else None):
        raise CsrfRejected()
    return user


CurrentUser = Annotated[UserSession, Depends(current_user)]
CsrfUser = Annotated[UserSession, Depends(csrf_checked)]
Api = Annotated[UserApi, Depends(user_api)]


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    user = signed_in(request)
    context.setdefault("user", user)
    context.setdefault("flashes", user.pop_flashes() if user else [])
    context.setdefault("csrf_token", user.csrf_token if user else "")
    return templates.TemplateResponse(request, template, context, status_code=status_code)


def redirect(path: str) -> RedirectResponse:
    """Post/Redirect/Get: 303 so a reload does not resubmit the form."""
    return RedirectResponse(path, status_code=303)


def sign_in_redirect(next_path: str, lost: bool = False) -> RedirectResponse:
    # expired=1: the sign-in page says the session ended and the form was not saved.
    return redirect(f"/sign-in?next={quote(next_path, safe='')}" + ("&expired=1" if lost else ""))
