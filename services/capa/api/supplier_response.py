"""The supplier's endpoints, opened by the SCAR's response link alone
(``Authorization: SCAR <token>``, api.supplier_link): no account, no key.

Each answers 404 with one message for a link that is unknown, expired or
revoked, and only ever touches the SCAR the token belongs to.
"""

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from shared.http.app import EvidenceDep
from shared.http.errors import PROBLEM_CONTENT
from shared.http.uploads import (
    DOWNLOAD_RESPONSES,
    UPLOAD_OPENAPI,
    UPLOAD_RESPONSES,
    download_response,
    read_upload,
)

from ..service import scar_responses
from ..supplier_schemas import ScarFile, ScarForSupplier, ScarResponseInput
from .deps import NowDep, SessionsDep
from .supplier_link import LinkToken

router = APIRouter(prefix="/v1/supplier-response", tags=["supplier response (link)"])
# 404 (documented on every route) is also the answer for a link that is unknown,
# expired or revoked; 429 is this area's own.
_LINK: dict[int | str, dict[str, Any]] = {
    429: {"description": "Too many requests with this link or from this address",
          "content": PROBLEM_CONTENT}}


@router.get("", response_model=ScarForSupplier, responses=_LINK,
            summary="The SCAR the link opens, with the response as it stands")
async def read(token: LinkToken, sessions: SessionsDep, now: NowDep) -> ScarForSupplier:
    return await scar_responses.read_response(sessions, token=token, now=now)


@router.put("", response_model=ScarForSupplier, responses=_LINK,
            summary="Save the response as a draft (replaces the draft)")
async def save(body: ScarResponseInput, token: LinkToken, sessions: SessionsDep,
               now: NowDep) -> ScarForSupplier:
    return await scar_responses.save_draft(sessions, token=token, request=body, now=now)


@router.post("/submission", response_model=ScarForSupplier, responses=_LINK,
             summary="Submit the saved response to the engineer")
async def submit(token: LinkToken, sessions: SessionsDep, now: NowDep) -> ScarForSupplier:
    return await scar_responses.submit_response(sessions, token=token, now=now)


@router.post("/evidence", status_code=201, response_model=ScarFile,
             openapi_extra=UPLOAD_OPENAPI, responses=UPLOAD_RESPONSES | _LINK,
             summary="Attach an evidence file to the response (multipart/form-data)")
async def attach(request: Request, token: LinkToken, sessions: SessionsDep,
                 setup: EvidenceDep, now: NowDep) -> JSONResponse:
    upload = await read_upload(request, max_bytes=setup.max_bytes)
    reference = await scar_responses.attach_response_evidence(
        sessions=sessions, store=setup.store, token=token, upload=upload, now=now)
    return JSONResponse(reference.model_dump(mode="json"), status_code=201)


@router.delete("/evidence/{attachment_id}", status_code=204, response_class=Response,
               responses=_LINK | {409: {"description": "The file was part of a submitted "
                                                   "response; it stays",
                                        "content": PROBLEM_CONTENT}},
               summary="Remove a file of the draft (one no submitted response held)")
async def remove(attachment_id: UUID, token: LinkToken, sessions: SessionsDep,
                 now: NowDep) -> Response:
    await scar_responses.remove_response_evidence(sessions=sessions, token=token,
                                                  attachment_id=attachment_id, now=now)
    return Response(status_code=204)


@router.get("/evidence/{attachment_id}", response_class=Response,
            responses=DOWNLOAD_RESPONSES | _LINK, summary="Download a file of the response")
async def download(attachment_id: UUID, request: Request, token: LinkToken,
                   sessions: SessionsDep, setup: EvidenceDep, now: NowDep) -> Response:
    file = await scar_responses.response_evidence_file(
        sessions=sessions, store=setup.store, token=token, scar_id=None,
        attachment_id=attachment_id, now=now)
    return download_response(request, file)
