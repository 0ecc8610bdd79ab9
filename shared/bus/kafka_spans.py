"""A Kafka send in the trace of the event it carries.

The span is the aiokafka instrumentation's (shared.tracing installs it with the
exporter). Two things it cannot know are settled here:

- Its parent. The relay publishes from a background loop, long after the
  request that recorded the event; the send is made a child of the record's
  ``traceparent`` header (the event's, kept by the outbox since the request),
  so a trace shows request -> send -> receive.
- The header itself. The instrumentation *appends* its span's traceparent to
  the record's headers; next to the event's that would make two, read first
  by some tools and last by others (and one more at each dead-letter or
  replay, which republish the headers they received). The event's is taken
  off, leaving one header: the send span's, in the event's trace. The
  consumer still continues from the event's own traceparent, which travels
  in the CloudEvent (shared.inbox), not from this header.

Without an exporter nothing is instrumented and the headers go out as they
are, the event's traceparent included.
"""

import asyncio
from contextlib import nullcontext
from typing import Any

from aiokafka import AIOKafkaProducer

from shared import tracing
from shared.bus.base import OutgoingRecord

TRACEPARENT = "traceparent"


async def send(producer: AIOKafkaProducer, topic: str,
               record: OutgoingRecord) -> "asyncio.Future[Any]":
    """``producer.send`` of one record; its acknowledgement future."""
    headers = list(record.headers)
    parent = None
    if tracing.kafka_instrumented():
        parent = next((v.decode() for k, v in headers if k == TRACEPARENT), None)
        headers = [(k, v) for k, v in headers if k != TRACEPARENT]
    with tracing.continuing(parent) if parent else nullcontext():
        ack: asyncio.Future[Any] = await producer.send(
            topic, record.value, key=record.key.encode(), headers=headers)
    return ack
