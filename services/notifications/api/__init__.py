"""Thin routers: parse, authorize, call a use case, map errors."""

from collections.abc import Callable, Iterable
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Request

from shared.auth import ROLES, Principal
from shared.db import SessionFactory
from shared.http.auth import require_roles

from ..settings import NotificationsSettings

# Any person may subscribe (to their own things); monitoring-source tokens may not.
Person = Annotated[Principal, Depends(require_roles(*ROLES))]


def sessions_of(request: Request) -> SessionFactory:
    sessions: SessionFactory = request.app.state.runtime.sessions
    return sessions


def settings_of(request: Request) -> NotificationsSettings:
    settings: NotificationsSettings = request.app.state.settings
    return settings


def _ignore(_ids: Iterable[UUID]) -> None:
    return None


def wake_of(request: Request) -> Callable[[Iterable[UUID]], None]:
    """Starts deliveries this request committed now, when this process runs the
    delivery worker; API-only processes leave them to the workers' poll."""
    wake: Callable[[Iterable[UUID]], None] = getattr(request.app.state, "wake_deliveries",
                                                     _ignore)
    return wake


Sessions = Annotated[SessionFactory, Depends(sessions_of)]
WakeDeliveries = Annotated[Callable[[Iterable[UUID]], None], Depends(wake_of)]
Settings = Annotated[NotificationsSettings, Depends(settings_of)]
