"""Every CAPAflow event type, one pydantic model each.

The model is the contract: producers build it, consumers validate with it,
and the JSON Schemas under docs/events/ are generated from it
(``python -m shared.events.schemas``). Adding an optional field keeps the
version; any other change is a new ``.vN`` type emitted beside the old one.
"""

from datetime import datetime
from enum import StrEnum
from typing import ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict

NONCONFORMITY_TOPIC = "nonconformity.events"
CAPA_TOPIC = "capa.events"
NOTIFICATIONS_TOPIC = "notifications.events"


class Severity(StrEnum):
    critical = "critical"
    major = "major"
    minor = "minor"
    observation = "observation"


class EventData(BaseModel):
    """The ``data`` of one event type. Unknown fields are ignored (forward compatible)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_type: ClassVar[str]
    topic: ClassVar[str]
    # The field holding the aggregate id: it becomes the CloudEvents subject and
    # the Kafka key, so all events of one aggregate stay in order.
    subject_field: ClassVar[str]

    def subject(self) -> str:
        return str(getattr(self, self.subject_field))


class NonconformityReported(EventData):
    event_type: ClassVar[str] = "capaflow.nonconformity.reported.v1"
    topic: ClassVar[str] = NONCONFORMITY_TOPIC
    subject_field: ClassVar[str] = "nonconformity_id"

    nonconformity_id: UUID
    number: str
    title: str
    severity: Severity
    source: str
    category: str | None = None
    reported_at: datetime


class NonconformityEscalated(EventData):
    event_type: ClassVar[str] = "capaflow.nonconformity.escalated.v1"
    topic: ClassVar[str] = NONCONFORMITY_TOPIC
    subject_field: ClassVar[str] = "nonconformity_id"

    nonconformity_id: UUID
    number: str
    title: str
    severity: Severity
    # Why the escalation policy fired: "severity", "recurrence", "audit_finding".
    reason: str
    category: str | None = None
    escalated_at: datetime


class CapaOpened(EventData):
    event_type: ClassVar[str] = "capaflow.capa.opened.v1"
    topic: ClassVar[str] = CAPA_TOPIC
    subject_field: ClassVar[str] = "capa_id"

    capa_id: UUID
    number: str
    title: str
    # None for a preventive CAPA raised from a risk, with no NC behind it.
    nonconformity_id: UUID | None = None
    severity: Severity
    opened_at: datetime


class CapaClosed(EventData):
    event_type: ClassVar[str] = "capaflow.capa.closed.v1"
    topic: ClassVar[str] = CAPA_TOPIC
    subject_field: ClassVar[str] = "capa_id"

    capa_id: UUID
    number: str
    nonconformity_ids: list[UUID] = []
    closed_by: str
    closed_at: datetime


class LessonPublished(EventData):
    event_type: ClassVar[str] = "capaflow.lesson.published.v1"
    topic: ClassVar[str] = CAPA_TOPIC
    # Keyed by the CAPA so the lesson follows its capa.closed in order.
    subject_field: ClassVar[str] = "capa_id"

    lesson_id: UUID
    capa_id: UUID
    title: str
    problem: str
    root_cause: str
    cause_category: str
    actions: list[str] = []
    what_to_do_differently: str
    tags: list[str] = []
    published_at: datetime


CATALOG: dict[str, type[EventData]] = {
    model.event_type: model
    for model in (
        NonconformityReported,
        NonconformityEscalated,
        CapaOpened,
        CapaClosed,
        LessonPublished,
    )
}
