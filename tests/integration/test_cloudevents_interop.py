"""A record the kafka adapter writes is read by the official CloudEvents SDK."""

import uuid

from aiokafka import AIOKafkaConsumer
from cloudevents.core.bindings.kafka import KafkaMessage, from_structured
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from cloudevents.v1.kafka import KafkaMessage as LegacyKafkaMessage
from cloudevents.v1.kafka import from_structured as legacy_from_structured

from shared.db import utcnow
from shared.events.catalog import NonconformityEscalated, Severity
from shared.events.envelope import Causation, new_event, to_record
from tests.integration.conftest import BusUnderTest, _bus_kind


async def test_stock_sdk_reads_every_attribute(kafka_bootstrap: str, new_sqlite_database,
                                               new_postgres_database) -> None:
    async with _bus_kind("kafka", new_sqlite_database, new_postgres_database) as kafka:
        await _check_interop(kafka, kafka_bootstrap)


async def _check_interop(kafka: BusUnderTest, bootstrap: str) -> None:
    topic = await kafka.new_topic()
    nc_id = uuid.uuid4()
    causation = Causation(correlation_id=str(uuid.uuid4()), causation_id=str(uuid.uuid4()),
                          traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    sent = new_event(service="nonconformity", causation=causation, data=NonconformityEscalated(
        nonconformity_id=nc_id, number="NC-2026-00042", title="Checkout 500s",
        severity=Severity.critical, reason="severity", escalated_at=utcnow()))
    await kafka.make_bus().publish([to_record(sent, topic)])

    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        message = await consumer.getone()
    finally:
        await consumer.stop()

    assert dict(message.headers)["content-type"] == b"application/cloudevents+json"
    assert message.key == str(nc_id).encode()

    read = from_structured(KafkaMessage(headers=dict(message.headers), key=message.key,
                                        value=message.value), JSONFormat(), CloudEvent)
    assert read.get_specversion() == "1.0"
    assert read.get_id() == sent.get_id()
    assert read.get_source() == "/capaflow/nonconformity"
    assert read.get_type() == "capaflow.nonconformity.escalated.v1"
    assert read.get_subject() == str(nc_id)
    assert read.get_time() == sent.get_time()
    assert read.get_datacontenttype() == "application/json"
    assert read.get_extension("correlationid") == causation.correlation_id
    assert read.get_extension("causationid") == causation.causation_id
    assert read.get_extension("traceparent") == causation.traceparent
    assert read.get_data() == sent.get_data()
    assert NonconformityEscalated.model_validate(read.get_data()).number == "NC-2026-00042"

    # The SDK's earlier (1.x) API, still used by many consumers, reads it too.
    legacy = legacy_from_structured(LegacyKafkaMessage(
        headers=dict(message.headers), key=message.key, value=message.value))
    assert legacy["id"] == sent.get_id()
    assert legacy["type"] == sent.get_type()
    assert legacy["correlationid"] == causation.correlation_id
    assert legacy.data == sent.get_data()
