"""Composition root of the nonconformity service (port 8001).

``uvicorn services.nonconformity.app:create_app --factory``
"""

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from shared.http.app import service_app
from shared.http.errors import problem_response

from .api import ROUTERS
from .domain import TransitionRefused
from .lifecycle import NotFound
from .service import SERVICE, SUBSCRIPTIONS
from .settings import NonconformitySettings


def create_app(settings: NonconformitySettings | None = None) -> FastAPI:
    settings = settings or NonconformitySettings()
    app = service_app(service=SERVICE, title="CAPAflow nonconformity service",
                      settings=settings, subscriptions=SUBSCRIPTIONS, routers=ROUTERS)
    app.state.policy = settings.escalation_policy()

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> JSONResponse:
        return problem_response(404, f"No nonconformity {exc}.", instance=request.url.path)

    @app.exception_handler(TransitionRefused)
    async def _refused(request: Request, exc: TransitionRefused) -> JSONResponse:
        return problem_response(409, str(exc), title="Not allowed now",
                                instance=request.url.path, allowed=exc.allowed)

    return app
