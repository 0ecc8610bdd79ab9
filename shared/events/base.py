"""What every event type has in common: the base model, topics, shared enums."""

from enum import StrEnum
from typing import ClassVar

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
