"""Correlation and W3C trace context, and the OpenTelemetry spans behind them.

An HTTP request (shared.http.observe) or a consumed event (shared.inbox)
binds a :class:`TraceContext`; every event recorded meanwhile inherits it (its
``correlationid``, ``causationid`` and ``traceparent``), and every log line
carries it. No tracing SDK is needed for the ids to flow end to end.

With an exporter configured, a TracerProvider is installed and the
ecosystem's instrumentations make the spans: FastAPI (server spans named by
route template), httpx (client spans, traceparent injected), SQLAlchemy (one
span per statement), aiokafka (send spans, receive spans for each poll). The
span an event's handling runs in is made here by hand (:func:`span`): it
continues the trace of the *event* (the traceparent recorded with it in the
outbox), not of the relay that published it later. Without an exporter
nothing is instrumented: a request costs one context-variable read more than
no tracing at all.
"""

import re
import secrets
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import Attributes

if TYPE_CHECKING:
    import httpx
    from fastapi import FastAPI
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.sdk.trace.sampling import SamplingResult
    from sqlalchemy.ext.asyncio import AsyncEngine

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
# Probes and scrapes every few seconds would drown the traces people look at.
# /supplier-response/: the web UI's link page carries a SCAR's token in its path,
# which a span's URL attributes would keep (docs/DESIGN.md, "Suppliers and SCARs").
UNTRACED_URLS = "/healthz,/readyz,/metrics,/supplier-response/"


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


def request_traceparent(incoming: str | None) -> str:
    """The traceparent of the request being served: the instrumentation's server
    span when there is one, else a made-up child of the caller's."""
    ids = trace.get_current_span().get_span_context()
    if ids.is_valid:
        return _format(ids)
    return child_of(incoming)


def _format(ids: trace.SpanContext) -> str:
    return f"00-{ids.trace_id:032x}-{ids.span_id:016x}-{ids.trace_flags:02x}"


def _parent(traceparent: str | None) -> Context:
    return TraceContextTextMapPropagator().extract({"traceparent": traceparent}
                                                   if traceparent else {})


# --- OpenTelemetry: a provider when an exporter is configured ---

_provider: "TracerProvider | None" = None
_tracer: trace.Tracer | None = None
_kafka_instrumented = False


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
    """Spans made from now on (and by apps, engines and clients instrumented from
    now on) go to ``exporter``. The provider is passed to each instrumentation
    rather than set globally, so tests can install and uninstall one."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    global _provider, _tracer
    provider = TracerProvider(resource=Resource.create({"service.name": f"capaflow-{service}"}),
                              sampler=_background_calls_dropped())
    # Tests read spans at once; real exporters batch.
    processor = (SimpleSpanProcessor(exporter) if isinstance(exporter, InMemorySpanExporter)
                 else BatchSpanProcessor(exporter))
    provider.add_span_processor(processor)
    _provider, _tracer = provider, provider.get_tracer("capaflow")
    _instrument_kafka(provider)


def recording() -> bool:
    """True while spans are recorded (an exporter is installed)."""
    return _tracer is not None


def uninstall() -> None:
    global _provider, _tracer
    if _provider is not None:
        _uninstrument_kafka()
        _provider.shutdown()
    _provider, _tracer = None, None


def _instrument_kafka(provider: "TracerProvider") -> None:
    """Send spans (``<topic> send``, traceparent injected into the record) and
    receive spans for each non-empty poll. Unlike the other instrumentations it
    patches aiokafka's classes, not one object: it follows install/uninstall."""
    from opentelemetry.instrumentation.aiokafka import AIOKafkaInstrumentor

    global _kafka_instrumented
    instrumentor = AIOKafkaInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:  # a provider installed twice
        instrumentor.uninstrument()
    # On a version conflict with aiokafka it logs an error and instruments nothing.
    instrumentor.instrument(tracer_provider=provider)
    _kafka_instrumented = instrumentor.is_instrumented_by_opentelemetry


def _uninstrument_kafka() -> None:
    from opentelemetry.instrumentation.aiokafka import AIOKafkaInstrumentor

    global _kafka_instrumented
    AIOKafkaInstrumentor().uninstrument()
    _kafka_instrumented = False


def kafka_instrumented() -> bool:
    """aiokafka's sends make spans and inject their traceparent (shared.bus.kafka_spans)."""
    return _kafka_instrumented


def enabled() -> bool:
    return _provider is not None


def _background_calls_dropped() -> Any:
    from opentelemetry.sdk.trace.sampling import (
        Decision,
        Sampler,
        SamplingResult,
        _get_from_env_or_default,
    )

    class BackgroundCallsDropped(Sampler):
        """A client call (SQL statement, HTTP request) outside any request, event
        or delivery is the background loops' polling (outbox relay, leases,
        delivery claims) ten times a second: not sampled. Everything else as
        OTEL_TRACES_SAMPLER says (default: parent-based, always on)."""

        def __init__(self) -> None:
            self._delegate = _get_from_env_or_default()

        def should_sample(self, parent_context: Context | None, trace_id: int, name: str,
                          kind: SpanKind | None = None, attributes: Attributes = None,
                          links: Sequence[Link] | None = None,
                          trace_state: Any = None) -> "SamplingResult":
            parent = trace.get_current_span(parent_context).get_span_context()
            if kind is SpanKind.CLIENT and not parent.is_valid:
                return SamplingResult(Decision.DROP)
            return self._delegate.should_sample(parent_context, trace_id, name, kind,
                                                attributes, links, trace_state)

        def get_description(self) -> str:
            return f"BackgroundCallsDropped{{{self._delegate.get_description()}}}"

    return BackgroundCallsDropped()


def instrument_app(app: "FastAPI") -> None:
    """Server spans named by route template (``POST /v1/nonconformities/{nc_id}/triage``)."""
    if _provider is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    # The per-message "http send/receive" spans say nothing the server span doesn't.
    FastAPIInstrumentor.instrument_app(app, tracer_provider=_provider,
                                       excluded_urls=UNTRACED_URLS,
                                       exclude_spans=["receive", "send"])


def instrument_engine(engine: "AsyncEngine") -> None:
    """One client span per SQL statement, a child of the request or event being handled."""
    if _provider is None:
        return
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.instrumentation.sqlalchemy.version import __version__
    from opentelemetry.metrics import get_meter

    # EngineTracer directly: SQLAlchemyInstrumentor().instrument(engine=...) also
    # patches sqlalchemy's module functions, and only once per process.
    usage = get_meter(__name__).create_up_down_counter("db.client.connections.usage")
    # EngineTracer's __init__ carries no annotations upstream.
    EngineTracer(  # type: ignore[no-untyped-call]
        _provider.get_tracer("opentelemetry.instrumentation.sqlalchemy", __version__),
        engine.sync_engine, usage)


def instrument_client(client: "httpx.AsyncClient") -> None:
    """Client spans for ``client``'s requests, with their traceparent injected."""
    if _provider is None or getattr(client, "_is_instrumented_by_opentelemetry", False):
        return
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor.instrument_client(client, tracer_provider=_provider)


@contextmanager
def span(name: str, *, parent: str | None, kind: str = "internal",
         attributes: Mapping[str, str | int] | None = None) -> Iterator[str]:
    """The current span while the block runs, under ``parent`` (a traceparent);
    yields its traceparent. Without an exporter it only makes the ids."""
    if _tracer is None:
        yield child_of(parent)
        return
    with _tracer.start_as_current_span(name, context=_parent(parent), kind=SpanKind[kind.upper()],
                                       attributes=attributes) as current_span:
        yield _format(current_span.get_span_context())


@contextmanager
def continuing(traceparent: str) -> Iterator[None]:
    """Spans an instrumentation starts in the block are children of
    ``traceparent``: the relay's Kafka send joins the trace of the request
    that recorded the event, not the background loop's."""
    token = otel_context.attach(_parent(traceparent))
    try:
        yield
    finally:
        otel_context.detach(token)
