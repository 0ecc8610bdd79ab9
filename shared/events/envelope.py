"""CloudEvents 1.0 envelope, structured JSON mode, Kafka protocol binding.

Built and read with the CloudEvents SDK so that any stock CloudEvents reader
understands every record we write.
"""

from dataclasses import dataclass
from typing import Any
from uuid import uuid4

from cloudevents.core.bindings.kafka import (
    KafkaMessage,
    from_structured_event,
    to_structured_event,
)
from cloudevents.core.v1.event import CloudEvent

from shared import tracing
from shared.bus.base import OutgoingRecord, ReceivedRecord
from shared.db import utcnow
from shared.events.catalog import CATALOG, EventData


class UnknownEventType(Exception):
    pass


@dataclass(frozen=True)
class Causation:
    """Where an event came from: the chain it belongs to and the event that caused it."""

    correlation_id: str | None = None
    causation_id: str | None = None
    traceparent: str | None = None


def new_event(*, service: str, data: EventData, causation: Causation | None = None) -> CloudEvent:
    event_id = str(uuid4())
    if causation is None:
        # Inside a request or an event handler: inherit its correlation and trace.
        context = tracing.current()
        causation = Causation(correlation_id=context.correlation_id,
                              causation_id=context.causation_id,
                              traceparent=context.traceparent)
    attributes: dict[str, Any] = {
        "specversion": "1.0",
        "id": event_id,
        "source": f"/capaflow/{service}",
        "type": data.event_type,
        "subject": data.subject(),
        "time": utcnow(),
        "datacontenttype": "application/json",
        # The first event of a chain is its own correlation id.
        "correlationid": causation.correlation_id or event_id,
    }
    if causation.causation_id:
        attributes["causationid"] = causation.causation_id
    if causation.traceparent:
        attributes["traceparent"] = causation.traceparent
    return CloudEvent(attributes, data.model_dump(mode="json"))


def caused_by(event: CloudEvent) -> Causation:
    """The causation for events emitted while handling ``event``."""
    context = tracing.current()
    # While its consumer span is bound (shared.inbox), the new event continues
    # from that span, so a trace shows request -> consumer -> next consumer.
    handling = context.causation_id == event.get_id() and context.traceparent
    return Causation(
        correlation_id=event.get_extension("correlationid") or event.get_id(),
        causation_id=event.get_id(),
        traceparent=handling or event.get_extension("traceparent"),
    )


def to_record(event: CloudEvent, topic: str) -> OutgoingRecord:
    message = to_structured_event(event, key_mapper=lambda e: e.get_subject())
    key = message.key.decode() if isinstance(message.key, bytes) else (message.key or "")
    headers = dict(message.headers)
    traceparent = event.get_extension("traceparent")
    if traceparent:
        # Also as a record header, where Kafka tracing tools look for it.
        headers["traceparent"] = traceparent.encode()
    return OutgoingRecord(topic=topic, key=key, value=message.value,
                          headers=tuple(headers.items()))


def from_record(record: ReceivedRecord) -> CloudEvent:
    message = KafkaMessage(headers=dict(record.headers), key=None, value=record.value)
    event = from_structured_event(message)
    if not isinstance(event, CloudEvent):  # a CloudEvents version this reader does not know
        raise ValueError(f"not a CloudEvents 1.0 event: {type(event).__name__}")
    return event


def event_data(event: CloudEvent) -> EventData:
    """Validate an event's data against its catalog model."""
    model = CATALOG.get(event.get_type())
    if model is None:
        raise UnknownEventType(event.get_type())
    return model.model_validate(event.get_data())
