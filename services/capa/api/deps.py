"""Dependency aliases the routers share, and what an Idempotency-Key stands for."""

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from shared.auth import Principal
from shared.db import utcnow

# Re-exported: the routers take every dependency from here.
from shared.http.app import SessionsDep as SessionsDep
from shared.http.auth import require_roles
from shared.versions import etag

from ..service import opening_policy
from ..service.opening import OpeningPolicy
from ..service.signing import SigningPolicy
from ..settings import CapaSettings


def _policy(request: Request) -> OpeningPolicy:
    settings: CapaSettings = request.app.state.settings
    return opening_policy(settings)


def _signing(request: Request) -> SigningPolicy:
    # Read per request, so the settings object is the one source of truth.
    settings: CapaSettings = request.app.state.settings
    return SigningPolicy(required=settings.signatures_required,
                         max_age=timedelta(minutes=settings.signature_max_age_minutes))


def _now() -> datetime:
    """The clock of a request; tests override it to move time."""
    return utcnow()


PolicyDep = Annotated[OpeningPolicy, Depends(_policy)]
SigningDep = Annotated[SigningPolicy, Depends(_signing)]
NowDep = Annotated[datetime, Depends(_now)]
clock = _now

# Reads need one of the people's roles (not just a valid credential: a token of the
# company's provider for someone without a CAPAflow role, or a monitoring source's
# key, reads nothing); writes name their roles.
PEOPLE = ("reporter", "engineer", "verifier", "manager")
Reader = Annotated[Principal, Depends(require_roles(*PEOPLE))]
# Who may link a past lesson to a CAPA (and so whose offers the review counts).
LINKERS = ("engineer", "manager")
Engineer = Annotated[Principal, Depends(require_roles(*LINKERS))]
WorkflowActor = Annotated[Principal, Depends(require_roles("engineer", "verifier",
                                                           "manager"))]
Planner = Annotated[Principal, Depends(require_roles("engineer", "verifier", "manager"))]
Verifier = Annotated[Principal, Depends(require_roles("verifier", "manager"))]


def with_etag(model: BaseModel, version: int, *, status_code: int = 200,
              location: str | None = None) -> JSONResponse:
    headers = {"ETag": etag(version)}
    if location:
        headers["Location"] = location
    return JSONResponse(model.model_dump(mode="json"), status_code=status_code,
                        headers=headers)


def idempotency_payload(path: str, body: BaseModel) -> dict[str, Any]:
    """What an Idempotency-Key of a capa create stands for: the body *and* the path
    it was posted to (``run_once`` fingerprints it).

    Why the path, and why in the fingerprint rather than in the subject: keys are
    per caller across the whole service (one ``idempotency_keys`` table), and a
    body alone does not say which CAPA it is for (the id is in the path), so the
    same action posted with one key to two CAPAs would replay the first CAPA's
    action as the answer for the second. In the fingerprint, that reuse is a 422
    like any other reuse of a key for a different request (the IETF
    Idempotency-Key draft, §2.7): a client that sends it has a bug worth hearing
    about, which scoping the subject per path would hide by running both. The
    shape ({"path", "body"}) is the one capa has always stored, so a retry of a
    key recorded before still replays.
    """
    return {"path": path, "body": body.model_dump(mode="json")}
