import uuid

from shared import tracing
from shared.db import utcnow
from shared.events.catalog import CapaClosed
from shared.events.envelope import new_event

PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def _data() -> CapaClosed:
    return CapaClosed(capa_id=uuid.uuid4(), number="CAPA-2026-00001", closed_by="m",
                      closed_at=utcnow())


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


async def test_spans_are_exported_in_the_callers_trace_when_configured() -> None:
    import httpx
    from fastapi import FastAPI
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from shared.http.observe import RequestObservation

    exporter = InMemorySpanExporter()
    tracing.install(service="test", exporter=exporter)
    try:
        app = FastAPI()
        app.add_middleware(RequestObservation, service="test")
        seen: list[str] = []

        @app.post("/things")
        async def things() -> dict[str, str]:
            seen.append(tracing.current().traceparent or "")
            with tracing.span("consume capaflow.test.v1", parent=seen[0], kind="consumer"):
                pass
            return {}

        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.post("/things", headers={"traceparent": PARENT})).is_success
        server, consumer = sorted(exporter.get_finished_spans(),
                                  key=lambda s: s.kind.name != "SERVER")
    finally:
        tracing.uninstall()
    trace_id = int("4bf92f3577b34da6a3ce929d0e0e4736", 16)
    assert server.context.trace_id == consumer.context.trace_id == trace_id
    assert server.parent is not None and server.parent.span_id == int("00f067aa0ba902b7", 16)
    assert seen[0] == f"00-{trace_id:032x}-{server.context.span_id:016x}-01"
    assert consumer.parent is not None and consumer.parent.span_id == server.context.span_id
    assert server.resource.attributes["service.name"] == "capaflow-test"


def test_an_unknown_exporter_is_refused() -> None:
    import pytest

    with pytest.raises(ValueError, match="exporter"):
        tracing.configure_exporter(service="x", exporter="jaeger-thrift")
    tracing.configure_exporter(service="x", exporter="none")  # the default: nothing to set up
    assert tracing._tracer is None
