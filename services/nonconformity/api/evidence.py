"""Evidence files on a nonconformity: upload (multipart/form-data), list, download."""

from uuid import UUID

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from shared.db import utcnow
from shared.evidence.attach import EvidencePublic
from shared.http.app import EvidenceDep
from shared.http.uploads import (
    DOWNLOAD_RESPONSES,
    UPLOAD_OPENAPI,
    UPLOAD_RESPONSES,
    download_response,
    read_upload,
)

from ..service import evidence
from .deps import Editor, Reader, SessionsDep

router = APIRouter(prefix="/v1/nonconformities/{nc_id}/evidence", tags=["evidence"])


@router.post("", status_code=201, response_model=EvidencePublic, openapi_extra=UPLOAD_OPENAPI,
             responses=UPLOAD_RESPONSES, summary="Attach an evidence file (multipart/form-data)")
async def attach(nc_id: UUID, request: Request, principal: Editor, sessions: SessionsDep,
                 setup: EvidenceDep) -> JSONResponse:
    upload = await read_upload(request, max_bytes=setup.max_bytes)
    reference = await evidence.attach_evidence(sessions=sessions, store=setup.store,
                                               nc_id=nc_id, upload=upload,
                                               actor=principal.subject, now=utcnow())
    return JSONResponse(reference.model_dump(mode="json"), status_code=201,
                        headers={"Location": reference.download})


@router.get("", response_model=list[EvidencePublic])
async def list_evidence(nc_id: UUID, _: Reader, sessions: SessionsDep) -> list[EvidencePublic]:
    return await evidence.list_evidence(sessions=sessions, nc_id=nc_id)


@router.get("/{attachment_id}", response_class=Response, responses=DOWNLOAD_RESPONSES,
            summary="Download an evidence file (ETag: its SHA-256)")
async def download(nc_id: UUID, attachment_id: UUID, request: Request, _: Reader,
                   sessions: SessionsDep, setup: EvidenceDep) -> Response:
    file = await evidence.evidence_file(sessions=sessions, store=setup.store, nc_id=nc_id,
                                        attachment_id=attachment_id)
    return download_response(request, file)
