"""Dependencies the routers share, and who may do what."""

from typing import Annotated

from fastapi import Depends, Request

from shared.auth import Principal

# Re-exported: the routers take every dependency from here.
from shared.http.app import SessionsDep as SessionsDep
from shared.http.auth import require_roles

from ..domain import EscalationPolicy
from ..settings import NonconformitySettings

PEOPLE = ("reporter", "engineer", "verifier", "manager")
# Audit findings are recorded by the quality staff who audit: verifiers and managers,
# and engineers acting as internal auditors.
AUDITORS = ("engineer", "verifier", "manager")
EDITORS = ("engineer", "manager")
MANAGERS = ("manager",)


def _policy(request: Request) -> EscalationPolicy:
    policy: EscalationPolicy = request.app.state.policy
    return policy


def _settings(request: Request) -> NonconformitySettings:
    settings: NonconformitySettings = request.app.state.settings
    return settings


PolicyDep = Annotated[EscalationPolicy, Depends(_policy)]
SettingsDep = Annotated[NonconformitySettings, Depends(_settings)]
Reader = Annotated[Principal, Depends(require_roles(*PEOPLE))]
Reporter = Annotated[Principal, Depends(require_roles(*PEOPLE))]
Auditor = Annotated[Principal, Depends(require_roles(*AUDITORS))]
Editor = Annotated[Principal, Depends(require_roles(*EDITORS))]
Manager = Annotated[Principal, Depends(require_roles(*MANAGERS))]
