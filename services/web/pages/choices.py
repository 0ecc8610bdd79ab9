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
NC_OPEN_STATUSES = (NonconformityStatus.reported.value, NonconformityStatus.accepted.value)

CAPA_FINISHED_STATES = (CapaStatus.closed.value, CapaStatus.cancelled.value)
CAPA_OPEN_STATES = tuple(s for s in values(CapaStatus) if s not in CAPA_FINISHED_STATES)
CAPA_STATE_LABELS: dict[str, str] = {
    CapaStatus.open: "Open", CapaStatus.investigating: "Investigating (root cause)",
    CapaStatus.action_planned: "Actions planned", CapaStatus.implementing: "Implementing",
    CapaStatus.verifying: "Verifying effectiveness", CapaStatus.closed: "Closed",
    CapaStatus.cancelled: "Cancelled"}
CAPA_KINDS = values(CapaKind)
CAUSE_LABELS: dict[str, str] = {
    CauseCategory.people: "People", CauseCategory.process: "Process",
    CauseCategory.equipment_technology: "Equipment and technology",
    CauseCategory.materials_supplier: "Materials and suppliers",
    CauseCategory.measurement: "Measurement", CauseCategory.environment: "Environment"}
ACTION_KIND_LABELS: dict[str, str] = {
    ActionKind.corrective: "Corrective action", ActionKind.preventive: "Preventive action",
    ActionKind.correction: "Correction (immediate fix)"}
ACTION_STATUSES = values(ActionStatus)
ACTION_FINISHED_STATES = (ActionStatus.done.value, ActionStatus.cancelled.value)

CHANNEL_LABELS: dict[str, str] = {
    Channel.webhook: "Webhook (signed HTTP POST)", Channel.email: "E-mail",
    Channel.slack: "Slack incoming webhook"}
MODE_LABELS: dict[str, str] = {
    DeliveryMode.immediate: "Immediately, one message per event",
    DeliveryMode.daily: "Daily digest", DeliveryMode.weekly: "Weekly digest"}
DELIVERY_STATUSES = values(DeliveryStatus)

# Every labelled vocabulary with its labels: a value added to a service's
# vocabulary without a label here fails tests/unit/web/test_choices.py.
LABELLED: dict[type[StrEnum], dict[str, str]] = {
    CapaStatus: CAPA_STATE_LABELS, CauseCategory: CAUSE_LABELS, ActionKind: ACTION_KIND_LABELS,
    Channel: CHANNEL_LABELS, DeliveryMode: MODE_LABELS}

# The status vocabularies, by their names, for the templates' comparisons
# (``nc.capa_link == CapaLink.requested``): a template spelling the value out
# would drift from the services unnoticed (tests/unit/web/test_choices.py).
TEMPLATE_VOCABULARY: dict[str, type[StrEnum]] = {
    vocabulary.__name__: vocabulary
    for vocabulary in (NonconformityStatus, CapaLink, CapaStatus, ActionStatus, DeliveryStatus)}
