"""Internal audit findings (ISO 9001 9.2) against a clause."""

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse

from shared import idempotency
from shared.http.concurrency import IdempotencyKey
from shared.versions import etag

from ..schemas import AuditFindingCreate, NonconformityPublic
from ..service import reporting
from .deps import Auditor, PolicyDep, SessionsDep

router = APIRouter(prefix="/v1/audits", tags=["audits"])


@router.post("/{audit_ref}/findings", status_code=201, response_model=NonconformityPublic)
async def record_finding(
        body: AuditFindingCreate, principal: Auditor, sessions: SessionsDep, policy: PolicyDep,
        audit_ref: Annotated[str, Path(pattern=r"^[A-Za-z0-9._-]{1,100}$")],
        idempotency_key: IdempotencyKey = None) -> JSONResponse:
    """A major nonconformity finding escalates to a CAPA at once."""
    async def run(claim: idempotency.Claim | None) -> JSONResponse:
        nc = await reporting.record_audit_finding(
            sessions=sessions, policy=policy, audit_ref=audit_ref, request=body,
            reported_by=principal.subject, claim=claim)
        return JSONResponse(nc.model_dump(mode="json"), status_code=201,
                            headers={"Location": f"/v1/nonconformities/{nc.id}",
                                     "ETag": etag(nc.version)})

    return await idempotency.run_once(sessions, subject=principal.subject, key=idempotency_key,
                                      payload={"audit_ref": audit_ref} | body.model_dump(
                                          mode="json"), use_case=run)
