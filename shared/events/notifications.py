"""Events the notifications service publishes on ``notifications.events``.

Keyed by the subscription, so one subscriber's outcomes stay in order.
"""

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from shared.events.base import NOTIFICATIONS_TOPIC, EventData


class NotificationEvent(EventData):
    topic: ClassVar[str] = NOTIFICATIONS_TOPIC
    subject_field: ClassVar[str] = "subscription_id"

    delivery_id: UUID
    subscription_id: UUID
    channel: str
    # The event that was (or could not be) delivered.
    source_event_id: str
    source_event_type: str
    attempts: int


class NotificationDelivered(NotificationEvent):
    event_type: ClassVar[str] = "capaflow.notification.delivered.v1"

    status_code: int | None = None
    delivered_at: datetime


class NotificationDeadLettered(NotificationEvent):
    """The last attempt failed (or the receiver refused for good); replayable via the API."""

    event_type: ClassVar[str] = "capaflow.notification.dead_lettered.v1"

    last_status_code: int | None = None
    last_error: str | None = None
    dead_lettered_at: datetime


EVENTS: tuple[type[EventData], ...] = (NotificationDelivered, NotificationDeadLettered)
