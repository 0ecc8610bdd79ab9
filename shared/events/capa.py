"""Events the CAPA service publishes on ``capa.events``."""

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from shared.events.base import CAPA_TOPIC, EventData, Severity


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
    # The effectiveness verification that allowed closing ("effective").
    effectiveness_result: str | None = None
    effectiveness_evidence: str | None = None
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


EVENTS: tuple[type[EventData], ...] = (CapaOpened, CapaClosed, LessonPublished)
