import asyncio
import ipaddress
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from fastapi import FastAPI
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import text

from services.notifications.channels import webhook
from shared import tracing
from shared.bus import kafka_spans
from shared.bus.base import OutgoingRecord
from shared.db import create_engine, utcnow
from shared.events.catalog import CapaClosed
from shared.events.envelope import Causation, caused_by, new_event
from shared.http.observe import RequestObservation

PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
TRACE_ID = int("4bf92f3577b34da6a3ce929d0e0e4736", 16)
PARENT_SPAN_ID = int("00f067aa0ba902b7", 16)


def _data() -> CapaClosed:
    return CapaClosed(capa_id=uuid.uuid4(), number="CAPA-2026-00001", closed_by="m",
                      closed_at=utcnow())


def _traceparent(span: ReadableSpan) -> str:
    assert span.context is not None
    return f"00-{span.context.trace_id:032x}-{span.context.span_id:016x}-01"


def _app() -> FastAPI:
    """An app built as shared.http.app builds one: observation middleware, then
    the instrumentation (a no-op without an exporter)."""
    app = FastAPI()
    app.add_middleware(RequestObservation, service="test")
    tracing.instrument_app(app)
    return app


async def _post(app: FastAPI, path: str, headers: dict[str, str]) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.post(path, headers=headers)


def test_child_span_keeps_the_trace_and_flags() -> None:
    child = tracing.child_of(PARENT)
    assert child.startswith("00-4bf92f3577b34da6a3ce929d0e0e4736-") and child.endswith("-01")
    assert child != PARENT


def test_invalid_or_missing_parent_starts_a_new_trace() -> None:
    for parent in (None, "", "garbage", "00-" + "0" * 32 + "-00f067aa0ba902b7-01"):
        child = tracing.child_of(parent)
        assert tracing._TRACEPARENT.match(child) and "0" * 32 not in child


def test_events_inherit_the_bound_context_and_nothing_leaks_after() -> None:
    context = tracing.TraceContext(correlation_id="req-1", causation_id="evt-0",
                                   traceparent=PARENT)
    with tracing.bound(context):
        event = new_event(service="capa", data=_data())
    assert event.get_extension("correlationid") == "req-1"
    assert event.get_extension("causationid") == "evt-0"
    assert event.get_extension("traceparent") == PARENT
    outside = new_event(service="capa", data=_data())
    assert outside.get_extension("correlationid") == outside.get_id()
    assert outside.get_extension("traceparent") is None


async def test_the_server_span_is_named_by_route_template_in_the_callers_trace(
        spans: InMemorySpanExporter) -> None:
    app = _app()
    recorded: list[str | None] = []

    @app.post("/v1/things/{thing_id}/triage")
    async def triage(thing_id: str) -> dict[str, str]:
        recorded.append(new_event(service="test", data=_data()).get_extension("traceparent"))
        return {}

    answer = await _post(app, "/v1/things/NC-42/triage",
                         {"traceparent": PARENT, "X-Correlation-ID": "ticket-7"})
    assert answer.is_success and answer.headers["x-correlation-id"] == "ticket-7"
    (server,) = spans.get_finished_spans()
    assert server.name == "POST /v1/things/{thing_id}/triage"
    assert server.kind is SpanKind.SERVER
    assert server.context is not None and server.context.trace_id == TRACE_ID
    assert server.parent is not None and server.parent.span_id == PARENT_SPAN_ID
    # The event recorded in the request continues from the server span itself.
    assert recorded == [_traceparent(server)]
    assert server.resource.attributes["service.name"] == "capaflow-test"


async def test_probes_and_scrapes_make_no_span(spans: InMemorySpanExporter) -> None:
    app = _app()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get("/healthz")).is_success
    assert spans.get_finished_spans() == ()


async def test_without_an_exporter_nothing_is_instrumented_and_ids_still_flow() -> None:
    app = _app()
    recorded: list[str | None] = []

    @app.post("/things")
    async def things() -> dict[str, str]:
        recorded.append(tracing.current().traceparent)
        return {}

    assert not tracing.enabled()
    assert (await _post(app, "/things", {"traceparent": PARENT})).is_success
    assert not getattr(app, "_is_instrumented_by_opentelemetry", False)
    (traceparent,) = recorded
    assert traceparent is not None and traceparent.startswith(PARENT[:36])
    assert traceparent != PARENT


async def test_an_httpx_call_in_a_request_is_a_child_span_carrying_its_traceparent(
        spans: InMemorySpanExporter) -> None:
    seen: list[str] = []

    def downstream(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["traceparent"])
        return httpx.Response(204)

    outbound = httpx.AsyncClient(transport=httpx.MockTransport(downstream))
    tracing.instrument_client(outbound)
    app = _app()

    @app.post("/calls")
    async def calls() -> dict[str, str]:
        await outbound.get("http://capa.test/v1/capas")
        return {}

    assert (await _post(app, "/calls", {"traceparent": PARENT})).is_success
    await outbound.aclose()
    client, server = sorted(spans.get_finished_spans(), key=lambda s: s.kind is SpanKind.SERVER)
    assert client.kind is SpanKind.CLIENT and client.name == "GET"
    assert server.context is not None and client.context is not None
    assert client.context.trace_id == TRACE_ID
    assert client.parent is not None and client.parent.span_id == server.context.span_id
    assert seen == [_traceparent(client)]


async def test_sql_statements_are_child_spans_and_background_polling_is_not_traced(
        spans: InMemorySpanExporter) -> None:
    engine = create_engine("sqlite+aiosqlite:///:memory:")
    try:
        # The relay's and the workers' polling run outside any request or event.
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        assert spans.get_finished_spans() == ()
        with tracing.span("consume capaflow.test.v1", parent=PARENT, kind="consumer"):
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 2"))
    finally:
        await engine.dispose()
    *sql, consumer = sorted(spans.get_finished_spans(), key=lambda s: s.kind is SpanKind.CONSUMER)
    assert consumer.context is not None and consumer.context.trace_id == TRACE_ID
    statements = {str((s.attributes or {}).get("db.statement")): s for s in sql}
    select = statements["SELECT 2"]  # SQLite's BEGIN is a statement span too
    assert select.kind is SpanKind.CLIENT and select.name.startswith("SELECT")
    assert all(s.parent is not None and s.parent.span_id == consumer.context.span_id
               for s in sql)


class _Answer(httpx.AsyncByteStream):
    """A streamed answer, as a receiver's is (the delivery reads it capped)."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b"ok"


async def _deliver(traceparents: list[str]) -> int | None:
    """One signed-webhook delivery of an event in PARENT's trace to a receiver
    recording each request's traceparent; the answer's status code."""
    def receiver(request: httpx.Request) -> httpx.Response:
        traceparents.append(request.headers["traceparent"])
        return httpx.Response(200, stream=_Answer())

    async def loopback(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    client = httpx.AsyncClient(transport=httpx.MockTransport(receiver))
    tracing.instrument_client(client)  # as pinned_client does (a no-op without exporter)
    async with client:
        result = await webhook.deliver(
            client, url="http://hooks.example/capa", body="{}", headers={}, now=utcnow(),
            allowed=(ipaddress.ip_network("127.0.0.0/8"),), timeout=5, traceparent=PARENT,
            resolver=loopback)
    return result.status_code


async def test_a_webhook_delivery_is_a_span_in_the_events_trace(
        spans: InMemorySpanExporter) -> None:
    sent: list[str] = []
    assert await _deliver(sent) == 200
    http, delivery = sorted(spans.get_finished_spans(), key=lambda s: s.kind is SpanKind.INTERNAL)
    assert delivery.name == "webhook delivery" and delivery.context is not None
    assert delivery.context.trace_id == TRACE_ID
    assert delivery.parent is not None and delivery.parent.span_id == PARENT_SPAN_ID
    assert http.parent is not None and http.parent.span_id == delivery.context.span_id
    # The receiver's traceparent is the HTTP call's, in the event's trace.
    assert sent == [_traceparent(http)]


async def test_without_an_exporter_a_webhook_still_carries_the_events_trace() -> None:
    sent: list[str] = []
    assert await _deliver(sent) == 200
    (traceparent,) = sent
    assert traceparent.startswith(PARENT[:36]) and traceparent != PARENT


class _Producer(AIOKafkaProducer):  # type: ignore[misc]
    """A real aiokafka producer, so the instrumentation wraps its send, that never
    connects: the topic's metadata is known at once, every record goes to
    partition 3, and the headers each record leaves with are kept here."""

    def __init__(self) -> None:
        super().__init__(bootstrap_servers="127.0.0.1:9", client_id="relay-test")
        self.sent: list[list[tuple[str, bytes]]] = []
        self.client._wait_on_metadata = self._topic_known
        self._partition = lambda *args: 3
        self._message_accumulator.add_message = self._queue

    async def _topic_known(self, topic: str) -> set[int]:
        return {3}

    async def _queue(self, tp: TopicPartition, key: bytes, value: bytes, timeout: float, *,
                     timestamp_ms: int | None, headers: list[tuple[str, bytes]]
                     ) -> asyncio.Future[Any]:
        self.sent.append(list(headers))
        return asyncio.get_running_loop().create_future()


@pytest.fixture
async def producer() -> AsyncIterator[_Producer]:
    producer = _Producer()
    try:
        yield producer
    finally:
        await producer.stop()


def _record(headers: tuple[tuple[str, bytes], ...]) -> OutgoingRecord:
    return OutgoingRecord(topic="capaflow.capa", key="CAPA-1", value=b"{}",
                          headers=(("content-type", b"application/cloudevents+json"),
                                   *headers))


async def test_a_kafka_send_is_a_producer_span_in_the_events_trace_with_one_traceparent(
        spans: InMemorySpanExporter, producer: _Producer) -> None:
    # The relay sends from a background loop: no span is current, the event's
    # traceparent header is the only link to the request that recorded it.
    record = _record((("traceparent", PARENT.encode()),))
    await kafka_spans.send(producer, "staging.capaflow.capa", record)
    (send,) = spans.get_finished_spans()
    assert send.name == "staging.capaflow.capa send" and send.kind is SpanKind.PRODUCER
    assert send.context is not None and send.context.trace_id == TRACE_ID
    assert send.parent is not None and send.parent.span_id == PARENT_SPAN_ID
    assert send.attributes is not None
    assert send.attributes["messaging.destination.name"] == "staging.capaflow.capa"
    assert send.attributes["messaging.kafka.message.key"] == "CAPA-1"
    assert send.attributes["messaging.destination.partition.id"] == "3"
    # One traceparent header, the send span's (the instrumentation appends its
    # own; the event's was taken off), and the CloudEvents headers untouched.
    (headers,) = producer.sent
    assert headers == [("content-type", b"application/cloudevents+json"),
                       ("traceparent", _traceparent(send).encode())]


async def test_a_republished_record_still_carries_one_traceparent(
        spans: InMemorySpanExporter, producer: _Producer) -> None:
    """A dead letter or a replay sends the headers it received, the first send's
    traceparent among them: the next send is its child, and the header is replaced."""
    await kafka_spans.send(producer, "capaflow.capa", _record((("traceparent", PARENT.encode()),)))
    await kafka_spans.send(producer, "capaflow.dlq", _record(tuple(producer.sent[0][1:])))
    first, second = spans.get_finished_spans()
    assert second.parent is not None and first.context is not None
    assert second.parent.span_id == first.context.span_id
    assert [k for k, _ in producer.sent[1]] == ["content-type", "traceparent"]
    assert producer.sent[1][1] == ("traceparent", _traceparent(second).encode())


async def test_without_an_exporter_a_kafka_send_keeps_the_events_traceparent(
        producer: _Producer) -> None:
    record = _record((("traceparent", PARENT.encode()),))
    await kafka_spans.send(producer, "capaflow.capa", record)
    assert producer.sent == [list(record.headers)]
    assert not tracing.kafka_instrumented()


async def test_uninstalling_the_exporter_uninstruments_aiokafka(producer: _Producer) -> None:
    exporter = InMemorySpanExporter()
    tracing.install(service="test", exporter=exporter)
    assert tracing.kafka_instrumented()
    tracing.uninstall()
    assert not tracing.kafka_instrumented()
    await kafka_spans.send(producer, "capaflow.capa", _record(()))
    assert exporter.get_finished_spans() == ()
    assert producer.sent == [[("content-type", b"application/cloudevents+json")]]


def test_an_unknown_exporter_is_refused() -> None:
    with pytest.raises(ValueError, match="exporter"):
        tracing.configure_exporter(service="x", exporter="jaeger-thrift")
    tracing.configure_exporter(service="x", exporter="none")  # the default: nothing to set up
    assert not tracing.enabled()


def test_an_event_recorded_while_handling_one_continues_from_the_consumer_span() -> None:
    handled = new_event(service="nonconformity", data=_data(),
                        causation=Causation(traceparent=PARENT))
    consumer = tracing.child_of(PARENT)
    with tracing.bound(tracing.TraceContext(causation_id=handled.get_id(),
                                            traceparent=consumer)):
        assert caused_by(handled).traceparent == consumer
    # Outside its handling (a replay, a test), the event's own trace context.
    assert caused_by(handled).traceparent == PARENT
