"""The one wording people read for each value of the published vocabulary.

The values of shared.vocabulary cross every boundary, and so do the words for
them: an e-mail (notifications), the review pack's CSV and PDF (capa) and the
page they link to (web) must call ``verifying`` the same thing. No service
imports another, so the labels live here beside the vocabulary, as contract
data: values to labels and nothing else. How a label is dressed (a plural, a
percent, an e-mail's sentence, what an unknown value falls back to) stays with
the service that shows it.

The order of each table is the web's menu order (the vocabulary's, except that
a corrective action is offered before a correction).
tests/unit/test_vocabulary_labels.py fails when a value has no label here.
"""

from collections.abc import Mapping
from enum import StrEnum

from shared.vocabulary import (
    ActionKind,
    ActionStatus,
    CapaKind,
    CapaLink,
    CapaStatus,
    CauseCategory,
    Channel,
    DeliveryMode,
    DeliveryStatus,
    NonconformityStatus,
    ScarStatus,
    Severity,
    Source,
    SupplierCriticality,
)

SEVERITY: Mapping[str, str] = {
    Severity.critical: "Critical", Severity.major: "Major", Severity.minor: "Minor",
    Severity.observation: "Observation"}
SOURCE: Mapping[str, str] = {
    Source.support: "Support ticket", Source.monitoring: "Monitoring alert",
    Source.audit: "Audit finding", Source.customer: "Customer complaint",
    Source.supplier: "Supplier", Source.internal: "Internal"}
NC_STATUS: Mapping[str, str] = {
    NonconformityStatus.reported: "Reported (not triaged)",
    NonconformityStatus.accepted: "Accepted", NonconformityStatus.rejected: "Rejected",
    NonconformityStatus.duplicate: "Duplicate", NonconformityStatus.closed: "Closed"}
# Shown beside or under "CAPA" ("CAPA: Requested"), so without the word again.
CAPA_LINK: Mapping[str, str] = {
    CapaLink.none: "None", CapaLink.requested: "Requested", CapaLink.open: "Open",
    CapaLink.closed: "Closed"}
CAPA_STATUS: Mapping[str, str] = {
    CapaStatus.open: "Open", CapaStatus.investigating: "Investigating (root cause)",
    CapaStatus.action_planned: "Actions planned", CapaStatus.implementing: "Implementing",
    CapaStatus.verifying: "Verifying effectiveness", CapaStatus.closed: "Closed",
    CapaStatus.cancelled: "Cancelled"}
CAPA_KIND: Mapping[str, str] = {
    CapaKind.corrective: "Corrective", CapaKind.preventive: "Preventive"}
CAUSE: Mapping[str, str] = {
    CauseCategory.people: "People", CauseCategory.process: "Process",
    CauseCategory.equipment_technology: "Equipment and technology",
    CauseCategory.materials_supplier: "Materials and suppliers",
    CauseCategory.measurement: "Measurement", CauseCategory.environment: "Environment"}
# A correction is the immediate fix; a corrective action removes the root cause:
# the labels keep the two apart wherever they are read.
ACTION_KIND: Mapping[str, str] = {
    ActionKind.corrective: "Corrective action", ActionKind.preventive: "Preventive action",
    ActionKind.correction: "Correction (immediate fix)"}
ACTION_STATUS: Mapping[str, str] = {
    ActionStatus.planned: "Planned", ActionStatus.in_progress: "In progress",
    ActionStatus.done: "Done", ActionStatus.cancelled: "Cancelled"}
CHANNEL: Mapping[str, str] = {
    Channel.webhook: "Webhook (signed HTTP POST)", Channel.email: "E-mail",
    Channel.slack: "Slack incoming webhook"}
DELIVERY_MODE: Mapping[str, str] = {
    DeliveryMode.immediate: "Immediately, one message per event",
    DeliveryMode.daily: "Daily digest", DeliveryMode.weekly: "Weekly digest"}
DELIVERY_STATUS: Mapping[str, str] = {
    DeliveryStatus.pending: "Pending", DeliveryStatus.delivered: "Delivered",
    DeliveryStatus.dead_lettered: "Dead-lettered (gave up)"}
SCAR_STATUS: Mapping[str, str] = {
    ScarStatus.sent: "Awaiting the supplier", ScarStatus.responded: "Response to review",
    ScarStatus.rejected: "Returned to the supplier", ScarStatus.accepted: "Accepted",
    # "Withdraw" is the button's word (the value stays "revoked": the contract's).
    ScarStatus.revoked: "Withdrawn"}
SUPPLIER_CRITICALITY: Mapping[str, str] = {
    SupplierCriticality.critical: "Critical", SupplierCriticality.high: "High",
    SupplierCriticality.medium: "Medium", SupplierCriticality.low: "Low"}

# Every vocabulary with its labels.
LABELS: Mapping[type[StrEnum], Mapping[str, str]] = {
    Severity: SEVERITY, Source: SOURCE, NonconformityStatus: NC_STATUS, CapaLink: CAPA_LINK,
    CapaStatus: CAPA_STATUS, CapaKind: CAPA_KIND, CauseCategory: CAUSE,
    ActionKind: ACTION_KIND, ActionStatus: ACTION_STATUS, Channel: CHANNEL,
    DeliveryMode: DELIVERY_MODE, DeliveryStatus: DELIVERY_STATUS, ScarStatus: SCAR_STATUS,
    SupplierCriticality: SUPPLIER_CRITICALITY}


def label(kind: type[StrEnum], value: object) -> str | None:
    """The label of ``value`` in the vocabulary ``kind``; None for a value the
    table does not know (a newer service's): each service says it its own way."""
    return LABELS.get(kind, {}).get(str(value))
