"""What the forms and filters offer: the services' published vocabulary
(shared.vocabulary), each value with the one label every page shows for it
(shared.vocabulary_labels, the wording e-mails and the review pack use too)."""

from collections.abc import Mapping
from enum import StrEnum

from shared import vocabulary_labels as labels
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
)


def values(vocabulary: type[StrEnum]) -> tuple[str, ...]:
    return tuple(member.value for member in vocabulary)


def labelled(table: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(table.items())


SEVERITIES = values(Severity)
SOURCES = values(Source)
NC_STATUSES = values(NonconformityStatus)
SEVERITY_LABELS = labels.SEVERITY
SOURCE_LABELS = labels.SOURCE
NC_STATUS_LABELS = labels.NC_STATUS
CAPA_LINK_LABELS = labels.CAPA_LINK
NC_OPEN_STATUSES = (NonconformityStatus.reported.value, NonconformityStatus.accepted.value)

CAPA_FINISHED_STATES = (CapaStatus.closed.value, CapaStatus.cancelled.value)
CAPA_OPEN_STATES = tuple(s for s in values(CapaStatus) if s not in CAPA_FINISHED_STATES)
CAPA_STATE_LABELS = labels.CAPA_STATUS
CAPA_KINDS = values(CapaKind)
CAPA_KIND_LABELS = labels.CAPA_KIND
CAUSE_LABELS = labels.CAUSE
ACTION_KIND_LABELS = labels.ACTION_KIND
ACTION_STATUSES = values(ActionStatus)
ACTION_STATUS_LABELS = labels.ACTION_STATUS
ACTION_FINISHED_STATES = (ActionStatus.done.value, ActionStatus.cancelled.value)

CHANNEL_LABELS = labels.CHANNEL
MODE_LABELS = labels.DELIVERY_MODE
DELIVERY_STATUSES = values(DeliveryStatus)
DELIVERY_STATUS_LABELS = labels.DELIVERY_STATUS
# An effectiveness verification's result (the capa service's, not in shared.vocabulary).
RESULT_LABELS: dict[str, str] = {"effective": "Effective", "not_effective": "Not effective"}
# An audit finding's grade (the nonconformity service's FindingType, not in shared.vocabulary).
FINDING_LABELS: dict[str, str] = {
    "major_nc": "Major nonconformity", "minor_nc": "Minor nonconformity",
    "observation": "Observation", "ofi": "Opportunity for improvement"}

# Every vocabulary the pages show, with its labels, the one wording of each value
# on every page and in every menu: a value added to a service's vocabulary without
# a label fails tests/unit/web/test_choices.py and tests/unit/test_vocabulary_labels.py;
# a page showing a raw value fails tests/unit/web/test_wording_pages.py.
LABELLED: dict[type[StrEnum], Mapping[str, str]] = {
    Severity: SEVERITY_LABELS, Source: SOURCE_LABELS, NonconformityStatus: NC_STATUS_LABELS,
    CapaLink: CAPA_LINK_LABELS, CapaStatus: CAPA_STATE_LABELS, CapaKind: CAPA_KIND_LABELS,
    CauseCategory: CAUSE_LABELS, ActionKind: ACTION_KIND_LABELS,
    ActionStatus: ACTION_STATUS_LABELS, Channel: CHANNEL_LABELS, DeliveryMode: MODE_LABELS,
    DeliveryStatus: DELIVERY_STATUS_LABELS, ScarStatus: labels.SCAR_STATUS}

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
    table: Mapping[str, str]
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
                       DeliveryMode, ScarStatus)}
