"""Every CAPAflow event type, one pydantic model each, in one catalog.

The model is the contract: producers build it, consumers validate with it,
and the JSON Schemas under docs/events/ are generated from it
(``python -m shared.events.schemas``). Adding an optional field keeps the
version; any other change is a new ``.vN`` type emitted beside the old one.
Each producing service's types live in their own module beside this one.
"""

from shared.events import capa, lessons, nonconformity, notifications, review, suppliers
from shared.events.base import (
    CAPA_TOPIC,
    NONCONFORMITY_TOPIC,
    NOTIFICATIONS_TOPIC,
    EventData,
    Severity,
)
from shared.events.capa import CapaClosed, CapaOpened
from shared.events.lessons import LessonPublished
from shared.events.nonconformity import NonconformityEscalated, NonconformityReported

__all__ = [
    "CAPA_TOPIC",
    "CATALOG",
    "NONCONFORMITY_TOPIC",
    "NOTIFICATIONS_TOPIC",
    "CapaClosed",
    "CapaOpened",
    "EventData",
    "LessonPublished",
    "NonconformityEscalated",
    "NonconformityReported",
    "Severity",
]

CATALOG: dict[str, type[EventData]] = {
    model.event_type: model
    for model in (*nonconformity.EVENTS, *capa.EVENTS, *lessons.EVENTS, *review.EVENTS,
                  *suppliers.EVENTS, *notifications.EVENTS)
}
