"""aiokafka's instrumentation on a real broker: an event's record keeps its
CloudEvent and carries one traceparent, and the spans form request -> send ->
receive (see shared.bus.kafka_spans)."""

import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from shared.bus.base import ReceivedRecord
from shared.bus.kafka import KafkaBus
from shared.db import utcnow
from shared.events.catalog import CapaClosed
from shared.events.envelope import Causation, from_record, new_event, to_record
from tests.conftest import eventually, require_kafka

pytestmark = pytest.mark.kafka

PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
TRACE_ID = int("4bf92f3577b34da6a3ce929d0e0e4736", 16)
PARENT_SPAN_ID = int("00f067aa0ba902b7", 16)


@pytest.fixture
async def topic() -> AsyncIterator[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=require_kafka(), request_timeout_ms=15000)
    await admin.start()
    name = f"test.{uuid.uuid4().hex[:12]}"
    try:
        await admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])
        yield name
    finally:
        await admin.close()


async def test_an_events_record_crosses_kafka_in_its_trace_with_one_traceparent(
        spans: InMemorySpanExporter, topic: str) -> None:
    event = new_event(service="capa", causation=Causation(traceparent=PARENT),
                      data=CapaClosed(capa_id=uuid.uuid4(), number="CAPA-2026-00001",
                                      closed_by="m", closed_at=utcnow()))
    bus = KafkaBus(bootstrap_servers=require_kafka(), client_id=f"trace-{uuid.uuid4().hex[:6]}")
    subscription = bus.subscribe(group=f"g-{uuid.uuid4().hex[:6]}", topics=[topic])
    await subscription.start()
    received: list[ReceivedRecord] = []
    try:
        await bus.publish([to_record(event, topic)])

        async def arrived() -> bool:
            received.extend(await subscription.fetch(max_records=10, timeout=0.2))
            return bool(received)

        await eventually(arrived, timeout=30, message="the record")
    finally:
        await subscription.stop()
        await bus.stop()

    (record,) = received
    finished = spans.get_finished_spans()
    (send,) = [s for s in finished if s.kind is SpanKind.PRODUCER]
    assert send.name == f"{topic} send" and send.context is not None
    assert send.context.trace_id == TRACE_ID
    assert send.parent is not None and send.parent.span_id == PARENT_SPAN_ID
    # One traceparent header, the send span's; the event inside is unchanged,
    # its own traceparent (the one the inbox continues from) included.
    assert [v for k, v in record.headers if k == "traceparent"] == [
        f"00-{send.context.trace_id:032x}-{send.context.span_id:016x}-01".encode()]
    decoded = from_record(record)
    assert decoded.get_id() == event.get_id()
    assert decoded.get_extension("traceparent") == PARENT
    # The poll's receive span for the record is the send's child.
    receives = [s for s in finished if s.kind is SpanKind.CONSUMER
                and s.parent is not None and s.parent.span_id == send.context.span_id]
    assert [s.name for s in receives] == [f"{topic} receive"]
    assert receives[0].attributes is not None
    assert receives[0].attributes["messaging.kafka.message.offset"] == record.offset
