"""Evidence files on a CAPA's actions and effectiveness verifications: upload
(multipart/form-data), list, download."""

from uuid import UUID

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from shared.auth import Principal
from shared.evidence.attach import EvidencePublic
from shared.evidence.store import EvidenceSetup
from shared.http.app import EvidenceDep
from shared.http.uploads import (
    DOWNLOAD_RESPONSES,
    UPLOAD_OPENAPI,
    UPLOAD_RESPONSES,
    download_response,
    read_upload,
)

from ..service import evidence
from ..service.evidence import EvidenceRecord
from .deps import Engineer, NowDep, Reader, SessionsDep, Verifier

router = APIRouter(prefix="/v1/capas/{capa_id}", tags=["evidence"])

ACTION = EvidenceRecord.action
VERIFICATION = EvidenceRecord.effectiveness_verification


async def _attach(request: Request, setup: EvidenceSetup, sessions: SessionsDep,
                  principal: Principal, now: NowDep, capa_id: UUID, record: EvidenceRecord,
                  record_id: UUID) -> JSONResponse:
    upload = await read_upload(request, max_bytes=setup.max_bytes)
    reference = await evidence.attach_evidence(
        sessions=sessions, store=setup.store, capa_id=capa_id, record=record,
        record_id=record_id, upload=upload, actor=principal.subject, now=now)
    return JSONResponse(reference.model_dump(mode="json"), status_code=201,
                        headers={"Location": reference.download})


@router.get("/evidence", response_model=list[EvidencePublic],
            summary="Every evidence file of the CAPA's actions and verifications")
async def all_evidence(capa_id: UUID, _: Reader, sessions: SessionsDep) -> list[EvidencePublic]:
    return await evidence.list_evidence(sessions=sessions, capa_id=capa_id)


@router.post("/actions/{action_id}/evidence", status_code=201, response_model=EvidencePublic,
             openapi_extra=UPLOAD_OPENAPI, responses=UPLOAD_RESPONSES,
             summary="Attach an evidence file to an action (multipart/form-data)")
async def attach_to_action(capa_id: UUID, action_id: UUID, request: Request,
                           principal: Engineer, sessions: SessionsDep, setup: EvidenceDep,
                           now: NowDep) -> JSONResponse:
    return await _attach(request, setup, sessions, principal, now, capa_id, ACTION, action_id)


@router.get("/actions/{action_id}/evidence", response_model=list[EvidencePublic])
async def action_evidence(capa_id: UUID, action_id: UUID, _: Reader,
                          sessions: SessionsDep) -> list[EvidencePublic]:
    return await evidence.list_evidence(sessions=sessions, capa_id=capa_id, record=ACTION,
                                        record_id=action_id)


@router.get("/actions/{action_id}/evidence/{attachment_id}", response_class=Response,
            responses=DOWNLOAD_RESPONSES,
            summary="Download an action's evidence file (ETag: its SHA-256)")
async def download_action_evidence(capa_id: UUID, action_id: UUID, attachment_id: UUID,
                                   request: Request, _: Reader, sessions: SessionsDep,
                                   setup: EvidenceDep) -> Response:
    file = await evidence.evidence_file(sessions=sessions, store=setup.store, capa_id=capa_id,
                                        record=ACTION, record_id=action_id,
                                        attachment_id=attachment_id)
    return download_response(request, file)


@router.post("/effectiveness-verifications/{verification_id}/evidence", status_code=201,
             response_model=EvidencePublic, openapi_extra=UPLOAD_OPENAPI,
             responses=UPLOAD_RESPONSES,
             summary="Attach an evidence file to a verification (multipart/form-data)")
async def attach_to_verification(capa_id: UUID, verification_id: UUID, request: Request,
                                 principal: Verifier, sessions: SessionsDep,
                                 setup: EvidenceDep, now: NowDep) -> JSONResponse:
    return await _attach(request, setup, sessions, principal, now, capa_id, VERIFICATION,
                         verification_id)


@router.get("/effectiveness-verifications/{verification_id}/evidence",
            response_model=list[EvidencePublic])
async def verification_evidence(capa_id: UUID, verification_id: UUID, _: Reader,
                                sessions: SessionsDep) -> list[EvidencePublic]:
    return await evidence.list_evidence(sessions=sessions, capa_id=capa_id,
                                        record=VERIFICATION, record_id=verification_id)


@router.get("/effectiveness-verifications/{verification_id}/evidence/{attachment_id}",
            response_class=Response, responses=DOWNLOAD_RESPONSES,
            summary="Download a verification's evidence file (ETag: its SHA-256)")
async def download_verification_evidence(capa_id: UUID, verification_id: UUID,
                                         attachment_id: UUID, request: Request, _: Reader,
                                         sessions: SessionsDep,
                                         setup: EvidenceDep) -> Response:
    file = await evidence.evidence_file(sessions=sessions, store=setup.store, capa_id=capa_id,
                                        record=VERIFICATION, record_id=verification_id,
                                        attachment_id=attachment_id)
    return download_response(request, file)
