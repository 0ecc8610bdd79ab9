"""The UI's error pages: every refusal a browser can meet is an HTML page (or a
redirect), never the framework's JSON ({"detail": "Not Found"}).

Installed by app.py; the page handlers raise, these answer.
"""

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from .client import ApiError
from .deps import (
    CsrfRejected,
    SignInRequired,
    forget_session,
    form_page,
    redirect,
    render,
    return_path,
    session_store,
    sign_in_redirect,
)
from .session import SESSION_COOKIE

# Framework refusals (no page of the UI ran) as a title and a message.
FRAMEWORK_PAGES = {
    404: ("Page not found", "There is no page at this address. Check the link, or start "
                            "again from the start page."),
    405: ("Not a page", "This address only receives forms. Open the page the form is on "
                        "and send it from there."),
}


def install_error_pages(app: FastAPI) -> None:
    @app.exception_handler(SignInRequired)
    async def to_sign_in(_request: Request, exc: SignInRequired) -> Response:
        return sign_in_redirect(exc.next_path, exc.lost)

    @app.exception_handler(CsrfRejected)
    async def csrf_rejected(request: Request, _exc: CsrfRejected) -> Response:
        return render(request, "error.html", status_code=403, title="Form expired",
                      message="This form was not sent from your current session. "
                              "Go back, reload the page and try again.")

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        if exc.status == 401:  # the key was revoked since sign-in
            await session_store(request).close(request.cookies.get(SESSION_COOKIE))
            forget_session(request)
            return sign_in_redirect(*return_path(request))
        titles = {403: "Not allowed", 404: "Not found", 503: "Service unavailable"}
        return render(request, "error.html", status_code=exc.status if exc.status < 500 else 503,
                      title=titles.get(exc.status, "Request failed"), message=str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def framework_refusal(request: Request, exc: StarletteHTTPException) -> Response:
        target = form_page(request.url.path)
        if exc.status_code == 405 and request.method in ("GET", "HEAD") and target \
                and not target.endswith("/new") and request.url.path.rstrip("/") != target:
            # A reload of the address a refused form left in the address bar
            # (/capas/{id}/transitions): the record's page is what the person wants.
            return redirect(target)
        title, message = FRAMEWORK_PAGES.get(
            exc.status_code, ("Request failed", "This request could not be handled."))
        response = render(request, "error.html", status_code=exc.status_code, title=title,
                          message=message)
        for name, value in (exc.headers or {}).items():  # e.g. Allow on a 405
            response.headers.setdefault(name, value)
        return response

    @app.exception_handler(RequestValidationError)
    async def unreadable(request: Request, _exc: RequestValidationError) -> Response:
        # The pages read their own fields and tolerate odd values; what still lands
        # here is a hand-made request. The input is not echoed back.
        return render(request, "error.html", status_code=422, title="Request not understood",
                      message="Some of what was sent could not be read. Go back, reload "
                              "the page and try again.")


def too_large_page(scope: Scope, limit: int) -> Response:
    """An upload form's body over its limit (refused by the body-size middleware,
    before any page ran): an HTML page, as every refusal a browser meets."""
    return render(Request(scope), "error.html", status_code=413, title="File too large",
                  message=f"The file is larger than this site takes ({limit // (1024 * 1024)} "
                          "MiB with the form). Go back and attach a smaller file, or split it.")
