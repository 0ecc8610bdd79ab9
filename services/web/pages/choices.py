"""What the forms and filters offer: the services' published vocabulary
(shared.vocabulary), each value with the one label every page shows for it."""

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
    Severity,
    Source,
)


def values(vocabulary: type[StrEnum]) -> tuple[str, ...]:
    return tuple(member.value for member in vocabulary)


def labelled(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(labels.items())


SEVERITIES = values(Severity)
SOURCES = values(Source)
NC_STATUSES = values(NonconformityStatus)
SEVERITY_LABELS: dict[str, str] = {
    Severity.critical: "Critical", Severity.major: "Major", Severity.minor: "Minor",
    Severity.observation: "Observation"}
SOURCE_LABELS: dict[str, str] = {
    Source.support: "Support ticket", Source.monitoring: "Monitoring alert",
    Source.audit: "Audit finding", Source.customer: "Customer complaint",
    Source.supplier: "Supplier", Source.internal: "Internal"}
NC_STATUS_LABELS: dict[str, str] = {
    NonconformityStatus.reported: "Reported (not triaged)",
    NonconformityStatus.accepted: "Accepted", NonconformityStatus.rejected: "Rejected",
    NonconformityStatus.duplicate: "Duplicate", NonconformityStatus.closed: "Closed"}
# Shown beside or under "CAPA" ("CAPA: Requested"), so without the word again.
CAPA_LINK_LABELS: dict[str, str] = {
    CapaLink.none: "None", CapaLink.requested: "Requested", CapaLink.open: "Open",
    CapaLink.closed: "Closed"}
NC_OPEN_STATUSES = (NonconformityStatus.reported.value, NonconformityStatus.accepted.value)

CAPA_FINISHED_STATES = (CapaStatus.closed.value, CapaStatus.cancelled.value)
CAPA_OPEN_STATES = tuple(s for s in values(CapaStatus) if s not in CAPA_FINISHED_STATES)
CAPA_STATE_LABELS: dict[str, str] = {
    CapaStatus.open: "Open", CapaStatus.investigating: "Investigating (root cause)",
    CapaStatus.action_planned: "Actions planned", CapaStatus.implementing: "Implementing",
    CapaStatus.verifying: "Verifying effectiveness", CapaStatus.closed: "Closed",
    CapaStatus.cancelled: "Cancelled"}
CAPA_KINDS = values(CapaKind)
CAPA_KIND_LABELS: dict[str, str] = {
    CapaKind.corrective: "Corrective", CapaKind.preventive: "Preventive"}
CAUSE_LABELS: dict[str, str] = {
    CauseCategory.people: "People", CauseCategory.process: "Process",
    CauseCategory.equipment_technology: "Equipment and technology",
    CauseCategory.materials_supplier: "Materials and suppliers",
    CauseCategory.measurement: "Measurement", CauseCategory.environment: "Environment"}
ACTION_KIND_LABELS: dict[str, str] = {
    ActionKind.corrective: "Corrective action", ActionKind.preventive: "Preventive action",
    ActionKind.correction: "Correction (immediate fix)"}
ACTION_STATUSES = values(ActionStatus)
ACTION_STATUS_LABELS: dict[str, str] = {
    ActionStatus.planned: "Planned", ActionStatus.in_progress: "In progress",
    ActionStatus.done: "Done", ActionStatus.cancelled: "Cancelled"}
ACTION_FINISHED_STATES = (ActionStatus.done.value, ActionStatus.cancelled.value)

CHANNEL_LABELS: dict[str, str] = {
    Channel.webhook: "Webhook (signed HTTP POST)", Channel.email: "E-mail",
    Channel.slack: "Slack incoming webhook"}
MODE_LABELS: dict[str, str] = {
    DeliveryMode.immediate: "Immediately, one message per event",
    DeliveryMode.daily: "Daily digest", DeliveryMode.weekly: "Weekly digest"}
DELIVERY_STATUSES = values(DeliveryStatus)
DELIVERY_STATUS_LABELS: dict[str, str] = {
    DeliveryStatus.pending: "Pending", DeliveryStatus.delivered: "Delivered",
    DeliveryStatus.dead_lettered: "Dead-lettered (gave up)"}
# An effectiveness verification's result (the capa service's, not in shared.vocabulary).
RESULT_LABELS: dict[str, str] = {"effective": "Effective", "not_effective": "Not effective"}
# An audit finding's grade (the nonconformity service's FindingType, not in shared.vocabulary).
FINDING_LABELS: dict[str, str] = {
    "major_nc": "Major nonconformity", "minor_nc": "Minor nonconformity",
    "observation": "Observation", "ofi": "Opportunity for improvement"}

# Every vocabulary with its labels, the one wording of each value on every page
# and in every menu: a value added to a service's vocabulary without a label here
# fails tests/unit/web/test_choices.py; a page showing a raw value fails
# tests/unit/web/test_wording_pages.py.
LABELLED: dict[type[StrEnum], dict[str, str]] = {
    Severity: SEVERITY_LABELS, Source: SOURCE_LABELS, NonconformityStatus: NC_STATUS_LABELS,
    CapaLink: CAPA_LINK_LABELS, CapaStatus: CAPA_STATE_LABELS, CapaKind: CAPA_KIND_LABELS,
    CauseCategory: CAUSE_LABELS, ActionKind: ACTION_KIND_LABELS,
    ActionStatus: ACTION_STATUS_LABELS, Channel: CHANNEL_LABELS, DeliveryMode: MODE_LABELS,
    DeliveryStatus: DELIVERY_STATUS_LABELS}

# The menus: (value, label) pairs in the vocabulary's order.
SEVERITY_OPTIONS = labelled(SEVERITY_LABELS)
SOURCE_OPTIONS = labelled(SOURCE_LABELS)
NC_STATUS_OPTIONS = labelled(NC_STATUS_LABELS)
CAPA_KIND_OPTIONS = labelled(CAPA_KIND_LABELS)
ACTION_STATUS_OPTIONS = labelled(ACTION_STATUS_LABELS)
DELIVERY_STATUS_OPTIONS = labelled(DELIVERY_STATUS_LABELS)


NOTHING = "\u2013"  # an en dash: what the pages show for no value


def label(value: object, vocabulary: type[StrEnum] | str) -> str:
    """The label of one value (the templates' ``label`` filter: ``{{ nc.status |
    label(NonconformityStatus) }}``). A value the table does not know yet (a newer
    service) is shown in words, never as ``in_progress``; no value is NOTHING."""
    if value is None or value == "":
        return NOTHING
    if isinstance(vocabulary, str):
        table = {"result": RESULT_LABELS, "finding": FINDING_LABELS}.get(vocabulary, {})
    else:
        table = LABELLED.get(vocabulary, {})
    text = str(value)
    if text in table:
        return table[text]
    words = text.replace("_", " ")
    return words[:1].upper() + words[1:]

# The status vocabularies, by their names, for the templates' comparisons
# (``nc.capa_link == CapaLink.requested``): a template spelling the value out
# would drift from the services unnoticed (tests/unit/web/test_choices.py).
TEMPLATE_VOCABULARY: dict[str, type[StrEnum]] = {
    vocabulary.__name__: vocabulary
    for vocabulary in (NonconformityStatus, CapaLink, CapaStatus, ActionStatus, DeliveryStatus,
                       Severity, Source, CapaKind, ActionKind, CauseCategory, Channel,
                       DeliveryMode)}
