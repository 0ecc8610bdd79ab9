"""Producer spans for the Kafka adapter, from send to the broker's acknowledgement.

Made by hand: the aiokafka instrumentation has no release for the pinned
OpenTelemetry SDK. Each span sits in the trace the event was recorded in (the
record's traceparent header, which the outbox kept since the request), so a
trace shows request → publish → consume even though the relay published later.
"""

import asyncio
from functools import partial
from typing import Any

from aiokafka import AIOKafkaProducer
from opentelemetry.trace import Span, StatusCode

from shared import tracing
from shared.bus.base import OutgoingRecord


async def send(producer: AIOKafkaProducer, topic: str,
               record: OutgoingRecord) -> "asyncio.Future[Any]":
    """``producer.send`` of one record; its acknowledgement future."""
    span = _start(topic, record)
    try:
        ack: asyncio.Future[Any] = await producer.send(
            topic, record.value, key=record.key.encode(), headers=list(record.headers))
    except BaseException as exc:
        _end(span, exc)
        raise
    if span is not None:
        ack.add_done_callback(partial(_end_on_ack, span))
    return ack


def _start(topic: str, record: OutgoingRecord) -> Span | None:
    if not tracing.enabled():
        return None
    parent = next((v.decode() for k, v in record.headers if k == "traceparent"), None)
    return tracing.start_span(f"send {topic}", parent=parent, kind="producer", attributes={
        "messaging.system": "kafka", "messaging.operation.type": "send",
        "messaging.destination.name": topic, "messaging.kafka.message.key": record.key})


def _end(span: Span | None, error: BaseException | None = None) -> None:
    if span is None:
        return
    if error is not None:
        span.record_exception(error)
        span.set_status(StatusCode.ERROR, f"{type(error).__name__}: {error}")
    span.end()


def _end_on_ack(span: Span, ack: "asyncio.Future[Any]") -> None:
    if ack.cancelled():
        _end(span, asyncio.CancelledError())
        return
    error = ack.exception()
    if error is None:
        metadata = ack.result()
        span.set_attribute("messaging.destination.partition.id", str(metadata.partition))
        span.set_attribute("messaging.kafka.offset", metadata.offset)
    _end(span, error)
