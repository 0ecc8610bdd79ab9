"""What the routers depend on: the caller, the sessions and the settings of this app."""

from typing import Annotated

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


SessionsDep = Annotated[SessionFactory, Depends(sessions_of)]
SettingsDep = Annotated[NotificationsSettings, Depends(settings_of)]
