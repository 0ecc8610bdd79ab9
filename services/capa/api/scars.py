"""SCARs from the CAPA's side: send, list, read, send the link again, decide, revoke."""

from uuid import UUID

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from shared.http.app import EvidenceDep
from shared.http.uploads import DOWNLOAD_RESPONSES, download_response

from ..service.scar_responses import response_evidence_file
from ..service.scars import (
    LinkPolicy,
    decide_scar,
    get_scar,
    list_scars,
    resend_link,
    revoke_scar,
    send_scar,
)
from ..settings import CapaSettings
from ..supplier_schemas import ScarCreate, ScarDecision, ScarPublic, ScarRevocation
from .deps import Engineer, NowDep, Reader, SessionsDep, with_etag

router = APIRouter(tags=["supplier corrective action requests"])


def _policy(request: Request) -> LinkPolicy:
    settings: CapaSettings = request.app.state.settings
    return LinkPolicy(smtp=settings.smtp(), ui_base_url=settings.ui_base_url,
                      valid_days=settings.scar_link_days)


@router.post("/v1/capas/{capa_id}/scars", status_code=201, response_model=ScarPublic,
             summary="Send a SCAR to a supplier's contact (an e-mail with the response link)")
async def send(capa_id: UUID, body: ScarCreate, request: Request, sessions: SessionsDep,
               principal: Engineer, now: NowDep) -> JSONResponse:
    view = await send_scar(sessions, capa_id=capa_id, request=body, principal=principal,
                           policy=_policy(request), now=now)
    return with_etag(view, view.version, status_code=201, location=f"/v1/scars/{view.id}")


@router.get("/v1/capas/{capa_id}/scars", response_model=list[ScarPublic])
async def of_capa(capa_id: UUID, sessions: SessionsDep, _: Reader,
                  now: NowDep) -> list[ScarPublic]:
    return await list_scars(sessions, capa_id=capa_id, now=now)


@router.get("/v1/scars/{scar_id}", response_model=ScarPublic)
async def scar(scar_id: UUID, sessions: SessionsDep, _: Reader, now: NowDep) -> JSONResponse:
    view = await get_scar(sessions, scar_id=scar_id, now=now)
    return with_etag(view, view.version)


@router.post("/v1/scars/{scar_id}/link", response_model=ScarPublic,
             summary="E-mail a new link (the earlier one stops working)")
async def new_link(scar_id: UUID, request: Request, sessions: SessionsDep,
                   principal: Engineer, now: NowDep) -> ScarPublic:
    return await resend_link(sessions, scar_id=scar_id, principal=principal,
                             policy=_policy(request), now=now)


@router.post("/v1/scars/{scar_id}/decision", response_model=ScarPublic,
             summary="Accept the supplier's response, or reject it with a reason")
async def decide(scar_id: UUID, body: ScarDecision, request: Request, sessions: SessionsDep,
                 principal: Engineer, now: NowDep) -> ScarPublic:
    return await decide_scar(sessions, scar_id=scar_id, request=body, principal=principal,
                             now=now, smtp=_policy(request).smtp)


@router.post("/v1/scars/{scar_id}/revocation", response_model=ScarPublic,
             summary="Withdraw the SCAR: its link stops working")
async def revoke(scar_id: UUID, body: ScarRevocation, request: Request, sessions: SessionsDep,
                 principal: Engineer, now: NowDep) -> ScarPublic:
    return await revoke_scar(sessions, scar_id=scar_id, request=body, principal=principal,
                             now=now, smtp=_policy(request).smtp)


@router.get("/v1/scars/{scar_id}/evidence/{attachment_id}", response_class=Response,
            responses=DOWNLOAD_RESPONSES, summary="Download a file of the supplier's response")
async def evidence(scar_id: UUID, attachment_id: UUID, request: Request, _: Reader,
                   sessions: SessionsDep, setup: EvidenceDep, now: NowDep) -> Response:
    file = await response_evidence_file(sessions=sessions, store=setup.store, token=None,
                                        scar_id=scar_id, attachment_id=attachment_id, now=now)
    return download_response(request, file)
