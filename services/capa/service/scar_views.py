"""Where a SCAR's evidence files are downloaded from: engineers through the
SCAR's path (with a key), the supplier through the link's path (with the token)."""

from shared.evidence.attach import EvidencePublic, evidence_view
from shared.evidence.store import EvidenceAttachment

# The record type of the supplier's files; their parent is the SCAR (not the
# CAPA), so the CAPA's own evidence lists never mix them in.
SCAR_RESPONSE = "scar_response"


def engineer_evidence_view(row: EvidenceAttachment) -> EvidencePublic:
    return evidence_view(row, f"/v1/scars/{row.parent_id}/evidence/{row.id}")


def supplier_evidence_view(row: EvidenceAttachment) -> EvidencePublic:
    return evidence_view(row, f"/v1/supplier-response/evidence/{row.id}")
