"""Where a SCAR's evidence files are downloaded from: engineers through the
SCAR's path (with a key), the supplier through the link's path (with the token)."""

from collections.abc import Iterable

from shared.evidence.attach import EvidencePublic, evidence_view
from shared.evidence.store import EvidenceAttachment

from ..supplier_models import Scar
from ..supplier_schemas import ScarFile

# The record type of the supplier's files; their parent is the SCAR (not the
# CAPA), so the CAPA's own evidence lists never mix them in.
SCAR_RESPONSE = "scar_response"


def engineer_evidence_view(row: EvidenceAttachment) -> EvidencePublic:
    return evidence_view(row, f"/v1/scars/{row.parent_id}/evidence/{row.id}")


def supplier_evidence_view(row: EvidenceAttachment, *, submitted: bool) -> ScarFile:
    view = evidence_view(row, f"/v1/supplier-response/evidence/{row.id}")
    return ScarFile(**view.model_dump(), submitted=submitted)


def submitted_only(scar: Scar, rows: Iterable[EvidenceAttachment]) -> list[EvidenceAttachment]:
    """The files engineers see: those a submission held. A file attached since is the
    supplier's draft, like the draft's texts."""
    held = set(scar.submitted_evidence)
    return [row for row in rows if str(row.id) in held]
