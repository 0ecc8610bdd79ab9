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
