"""Actions of a CAPA and its effectiveness verification."""

from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from shared.http.concurrency import IdempotencyKey, IfMatch
from shared.idempotency import Claim, run_once

from ..schemas import (
    ActionCreate,
    ActionPublic,
    ActionUpdate,
    CapaPublic,
    EffectivenessPlanInput,
    VerificationCreate,
    VerificationPublic,
)
from ..service.actions import add_action, get_action, list_actions, update_action
from ..service.effectiveness import (
    list_verifications,
    plan_effectiveness_check,
    verify_effectiveness,
)
from .deps import (
    Engineer,
    NowDep,
    Planner,
    Reader,
    SessionsDep,
    SigningDep,
    Verifier,
    idempotency_payload,
    with_etag,
)

router = APIRouter(prefix="/v1/capas/{capa_id}", tags=["actions and effectiveness"])


@router.get("/actions", response_model=list[ActionPublic])
async def actions(capa_id: UUID, sessions: SessionsDep, _: Reader,
                  now: NowDep) -> list[ActionPublic]:
    return await list_actions(sessions, capa_id=capa_id, now=now)


@router.post("/actions", status_code=201, response_model=ActionPublic)
async def add(capa_id: UUID, body: ActionCreate, sessions: SessionsDep, principal: Engineer,
              now: NowDep, idempotency_key: IdempotencyKey = None) -> JSONResponse:
    async def run(claim: Claim | None) -> JSONResponse:
        view = await add_action(sessions, capa_id=capa_id, request=body, principal=principal,
                                now=now, claim=claim)
        return with_etag(view, view.version, status_code=201,
                         location=f"/v1/capas/{capa_id}/actions/{view.id}")

    return await run_once(sessions, subject=principal.subject, key=idempotency_key,
                          payload=idempotency_payload(f"/v1/capas/{capa_id}/actions", body),
                          use_case=run)


@router.get("/actions/{action_id}", response_model=ActionPublic)
async def action(capa_id: UUID, action_id: UUID, sessions: SessionsDep, _: Reader,
                 now: NowDep) -> JSONResponse:
    view = await get_action(sessions, capa_id=capa_id, action_id=action_id, now=now)
    return with_etag(view, view.version)


@router.patch("/actions/{action_id}", response_model=ActionPublic,
              summary="Update an action (If-Match); done needs completion evidence")
async def edit(capa_id: UUID, action_id: UUID, body: ActionUpdate, sessions: SessionsDep,
               principal: Engineer, now: NowDep, if_match: IfMatch) -> JSONResponse:
    view = await update_action(sessions, capa_id=capa_id, action_id=action_id, request=body,
                               if_match=if_match, principal=principal, now=now)
    return with_etag(view, view.version)


@router.put("/effectiveness-plan", response_model=CapaPublic,
            summary="How and when effectiveness will be checked")
async def plan(capa_id: UUID, body: EffectivenessPlanInput, sessions: SessionsDep,
               principal: Planner, now: NowDep) -> JSONResponse:
    view = await plan_effectiveness_check(sessions, capa_id=capa_id, request=body,
                                          principal=principal, now=now)
    return with_etag(view, view.version)


@router.get("/effectiveness-verifications", response_model=list[VerificationPublic])
async def verifications(capa_id: UUID, sessions: SessionsDep,
                        _: Reader) -> list[VerificationPublic]:
    return await list_verifications(sessions, capa_id=capa_id)


@router.post("/effectiveness-verifications", status_code=201, response_model=VerificationPublic,
             summary="Record the check's result; the verifier is not the CAPA owner")
async def verify(capa_id: UUID, body: VerificationCreate, sessions: SessionsDep,
                 principal: Verifier, now: NowDep, signing: SigningDep,
                 idempotency_key: IdempotencyKey = None) -> JSONResponse:
    async def run(claim: Claim | None) -> JSONResponse:
        view = await verify_effectiveness(sessions, capa_id=capa_id, request=body,
                                          principal=principal, now=now, claim=claim,
                                          signing=signing)
        return JSONResponse(view.model_dump(mode="json"), status_code=201)

    path = f"/v1/capas/{capa_id}/effectiveness-verifications"
    return await run_once(sessions, subject=principal.subject, key=idempotency_key,
                          payload=idempotency_payload(path, body), use_case=run)
