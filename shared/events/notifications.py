"""Events the notifications service publishes on ``notifications.events``."""

from shared.events.base import EventData

EVENTS: tuple[type[EventData], ...] = ()
