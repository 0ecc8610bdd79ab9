"""Electronic signatures: list a CAPA's, and verify them against the stored records."""

from uuid import UUID

from fastapi import APIRouter

from ..service.signing import list_signatures, verify_signatures
from ..signature_schemas import SignaturePublic, SignatureVerification
from .deps import Reader, SessionsDep

router = APIRouter(prefix="/v1/capas/{capa_id}", tags=["signatures"])


@router.get("/signatures", response_model=list[SignaturePublic],
            summary="The CAPA's electronic signatures: signer, printed name, time (UTC), "
                    "meaning, what was signed and its hash")
async def signatures(capa_id: UUID, sessions: SessionsDep, _: Reader) -> list[SignaturePublic]:
    return await list_signatures(sessions, capa_id=capa_id)


@router.get("/signatures/verify", response_model=SignatureVerification,
            summary="Recompute each signature's hash from the stored record; names the "
                    "signatures that no longer match")
async def verify(capa_id: UUID, sessions: SessionsDep, _: Reader) -> SignatureVerification:
    return await verify_signatures(sessions, capa_id=capa_id)
