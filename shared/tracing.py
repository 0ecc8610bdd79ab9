"""Correlation and W3C trace context, carried in context variables.

An HTTP request (shared.http.observe) or a consumed event (shared.inbox)
opens a span and sets them; every event recorded meanwhile inherits them (its
``correlationid``, ``causationid`` and ``traceparent``), and every log line
carries them. No tracing SDK is needed for the ids to flow end to end.
"""

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Tracer

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


@dataclass(frozen=True)
class TraceContext:
    correlation_id: str | None = None
    causation_id: str | None = None
    traceparent: str | None = None


_NONE = TraceContext()
_current: ContextVar[TraceContext | None] = ContextVar("capaflow_trace", default=None)


def current() -> TraceContext:
    return _current.get() or _NONE


@contextmanager
def bound(context: TraceContext) -> Iterator[None]:
    token = _current.set(context)
    try:
        yield
    finally:
        _current.reset(token)


def new_traceparent() -> str:
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def child_of(traceparent: str | None) -> str:
    """A new span id in the caller's trace, or a new trace when there is none."""
    match = _TRACEPARENT.match(traceparent or "")
    if match is None or set(match.group(1)) == {"0"}:
        return new_traceparent()
    return f"00-{match.group(1)}-{secrets.token_hex(8)}-{match.group(3)}"


# --- OpenTelemetry: real spans, exported when a service is configured to ---

_tracer: "Tracer | None" = None


def configure_exporter(*, service: str, exporter: str, endpoint: str | None = None) -> None:
    """``exporter``: "none" (the default: ids still flow, nothing is exported),
    "console", or "otlp" (OTLP over HTTP; ``endpoint`` or OTEL_EXPORTER_OTLP_ENDPOINT)."""
    if exporter == "none":
        return
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SpanExporter

    span_exporter: SpanExporter
    if exporter == "console":
        span_exporter = ConsoleSpanExporter()
    elif exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        span_exporter = OTLPSpanExporter(endpoint=endpoint) if endpoint else OTLPSpanExporter()
    else:
        raise ValueError(f"unknown trace exporter {exporter!r}")
    install(service=service, exporter=span_exporter)


def install(*, service: str, exporter: "SpanExporter") -> None:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    global _tracer
    provider = TracerProvider(resource=Resource.create({"service.name": f"capaflow-{service}"}))
    # Tests read spans at once; real exporters batch.
    processor = (SimpleSpanProcessor(exporter) if isinstance(exporter, InMemorySpanExporter)
                 else BatchSpanProcessor(exporter))
    provider.add_span_processor(processor)
    _tracer = provider.get_tracer("capaflow")


def uninstall() -> None:
    global _tracer
    _tracer = None


@contextmanager
def span(name: str, *, parent: str | None, kind: str = "internal") -> Iterator[str]:
    """A span under ``parent`` (a traceparent); yields the new span's traceparent.
    Without an exporter configured it only makes the ids (no SDK involved)."""
    if _tracer is None:
        yield child_of(parent)
        return
    from opentelemetry.trace import SpanKind
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    context = TraceContextTextMapPropagator().extract({"traceparent": parent} if parent else {})
    with _tracer.start_as_current_span(name, context=context,
                                       kind=SpanKind[kind.upper()]) as current:
        ids = current.get_span_context()
        yield f"00-{ids.trace_id:032x}-{ids.span_id:016x}-{ids.trace_flags:02x}"
