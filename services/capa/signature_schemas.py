"""API models of electronic signatures (domain.signatures, docs/signatures.md)."""

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from .domain.signatures import Meaning, SignedMove


class SignatureInput(BaseModel):
    """Sign the move: the signer is the person whose token makes the request (signed
    in through the identity provider, authenticated at most
    ``CAPA_SIGNATURE_MAX_AGE_MINUTES`` ago); the time is the server's."""

    model_config = ConfigDict(extra="forbid")

    meaning: Meaning = Field(description=(
        "What the signature means. Root-cause approval: approval or review; "
        "effectiveness verification: authorship, review or responsibility; "
        "closure: approval or responsibility."))


class SignaturePublic(BaseModel):
    """A signature as §11.50 asks it to be shown: printed name, date and time (UTC),
    meaning, plus what was signed and the hash binding them."""

    id: UUID
    capa_id: UUID
    move: SignedMove
    record_id: str
    meaning: Meaning
    signer: str
    signer_name: str
    signed_at: datetime
    authenticated_at: datetime
    # Exactly what was signed (the record's content at that moment).
    content: dict[str, Any]
    scheme: str
    hash: str
    # "Signed by Vera Verifier (vera) on 2026-12-07T09:48:12Z; meaning: review"
    manifestation: str


class BrokenSignature(BaseModel):
    id: UUID
    move: str
    signer: str
    meaning: str
    signed_at: datetime
    problem: str


class SignatureVerification(BaseModel):
    """Every signature of the CAPA recomputed from the stored rows."""

    valid: bool
    signatures: int
    broken: list[BrokenSignature]
