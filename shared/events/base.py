"""What every event type has in common: the base model, topics, shared enums."""

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


class EvidenceAttached(EventData):
    """What an evidence-attached event says of the file: a reference (hash, name,
    type, size, where to download it), never the bytes. Subscribers that need
    the file fetch ``download_path`` from the producing service with a key."""

    attachment_id: UUID
    # "nonconformity", "action" or "effectiveness_verification".
    record_type: str
    record_id: UUID
    sha256: str
    filename: str
    content_type: str
    size: int
    # Path on the producing service's API, e.g. /v1/nonconformities/{id}/evidence/{id}.
    download_path: str
    attached_by: str
    attached_at: datetime
