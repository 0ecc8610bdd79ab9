"""Lessons-learned events the CAPA service publishes on ``capa.events``: a closed
CAPA's lesson published, and a past lesson linked to a CAPA as relevant. Keyed
by the CAPA, so each follows the CAPA's own events in order."""

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from shared.events.base import CAPA_TOPIC, EventData
from shared.events.capa import CapaEvent


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
    capa_number: str | None = None


class CapaLessonLinked(CapaEvent):
    """A past lesson was linked to this CAPA as relevant (offered as similar, or
    chosen by hand); linking the same lesson again publishes nothing."""

    event_type: ClassVar[str] = "capaflow.capa.lesson_linked.v1"

    lesson_id: UUID
    # The CAPA the lesson was learned on.
    lesson_capa_id: UUID
    lesson_capa_number: str
    linked_by: str
    linked_at: datetime


EVENTS: tuple[type[EventData], ...] = (LessonPublished, CapaLessonLinked)
