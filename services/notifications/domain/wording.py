"""The words a person reads for the vocabulary values an e-mail shows.

The same words as the web UI's table (services/web/pages/choices.py), so an
e-mail and the page it links to agree; the notifications service imports no
other service, hence its own small table of the values its messages show.
Webhooks get the raw values: only the human text uses these words.
"""

from collections.abc import Mapping

from shared.vocabulary import (
    ActionKind,
    CapaStatus,
    CauseCategory,
    ScarStatus,
    Severity,
    Source,
)

SEVERITY: Mapping[str, str] = {
    Severity.critical: "Critical", Severity.major: "Major", Severity.minor: "Minor",
    Severity.observation: "Observation"}
SOURCE: Mapping[str, str] = {
    Source.support: "Support ticket", Source.monitoring: "Monitoring alert",
    Source.audit: "Audit finding", Source.customer: "Customer complaint",
    Source.supplier: "Supplier", Source.internal: "Internal"}
CAPA_STATUS: Mapping[str, str] = {
    CapaStatus.open: "Open", CapaStatus.investigating: "Investigating (root cause)",
    CapaStatus.action_planned: "Actions planned", CapaStatus.implementing: "Implementing",
    CapaStatus.verifying: "Verifying effectiveness", CapaStatus.closed: "Closed",
    CapaStatus.cancelled: "Cancelled"}
SCAR_STATUS: Mapping[str, str] = {
    ScarStatus.sent: "Sent, awaiting the supplier's response",
    ScarStatus.responded: "Responded, awaiting review", ScarStatus.rejected: "Response rejected",
    ScarStatus.accepted: "Accepted", ScarStatus.revoked: "Revoked"}
CAUSE: Mapping[str, str] = {
    CauseCategory.people: "People", CauseCategory.process: "Process",
    CauseCategory.equipment_technology: "Equipment and technology",
    CauseCategory.materials_supplier: "Materials and suppliers",
    CauseCategory.measurement: "Measurement", CauseCategory.environment: "Environment"}
ACTION_KIND: Mapping[str, str] = {
    ActionKind.corrective: "Corrective action", ActionKind.preventive: "Preventive action",
    ActionKind.correction: "Correction (immediate fix)"}
RESULT: Mapping[str, str] = {"effective": "Effective", "not_effective": "Not effective"}
DECISION: Mapping[str, str] = {
    "accepted": "Accepted", "accept": "Accepted", "rejected": "Rejected", "reject": "Rejected",
    "duplicate": "Duplicate"}


def words(value: object, table: Mapping[str, str]) -> str:
    """The words of one value; a value the table does not know yet (a newer
    service) in words too, never as ``in_progress``."""
    text = str(value)
    return table.get(text) or text.replace("_", " ").capitalize()
