"""Events the nonconformity service publishes on ``nonconformity.events``."""

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from shared.events.base import NONCONFORMITY_TOPIC, EventData, Severity


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


EVENTS: tuple[type[EventData], ...] = (NonconformityReported, NonconformityEscalated)
