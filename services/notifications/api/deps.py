"""What the routers depend on: the caller, the sessions and the settings of this app."""

from typing import Annotated

from fastapi import Depends, Request

from shared.auth import ROLES, Principal

# Re-exported: the routers take every dependency from here.
from shared.http.app import SessionsDep as SessionsDep
from shared.http.auth import require_roles

from ..settings import NotificationsSettings

# Any person may subscribe (to their own things); monitoring-source tokens may not.
Person = Annotated[Principal, Depends(require_roles(*ROLES))]


def settings_of(request: Request) -> NotificationsSettings:
    settings: NotificationsSettings = request.app.state.settings
    return settings


SettingsDep = Annotated[NotificationsSettings, Depends(settings_of)]
