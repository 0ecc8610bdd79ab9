"""One NC's trace across the three services, as a collector sees it.

The services run as separate processes on Kafka + PostgreSQL with the OTLP
exporter pointed at a small OTLP/HTTP receiver on 127.0.0.1. A critical NC
(escalated at once by the default policy) is reported with a traceparent;
its trace must then hold the intake request (span named by route template),
its SQL and its Kafka send (with capa's receive under it), the capa consumer,
and the notifications consumer with the webhook delivery whose request the
subscriber receives.
"""

import gzip
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests.e2e.loop import QuietHandler, Receiver, poll, quiet_server, webhook_receiver
from tests.e2e.processes import one_of_each
from tests.e2e.test_run_services import SERVICES

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


@dataclass(frozen=True)
class Span:
    service: str
    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: int
    attributes: dict[str, Any]


@dataclass
class Collector:
    """An OTLP/HTTP trace receiver: every span exported to it, decoded."""

    port: int
    spans: list[Span] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/traces"

    def add(self, body: bytes) -> None:
        request = ExportTraceServiceRequest.FromString(body)
        decoded = []
        for resource_spans in request.resource_spans:
            service = next(a.value.string_value for a in resource_spans.resource.attributes
                           if a.key == "service.name")
            for scope_spans in resource_spans.scope_spans:
                for s in scope_spans.spans:
                    attributes = {a.key: getattr(a.value, a.value.WhichOneof("value") or "")
                                  if a.value.WhichOneof("value") else None
                                  for a in s.attributes}
                    decoded.append(Span(service, s.trace_id.hex(), s.span_id.hex(),
                                        s.parent_span_id.hex(), s.name, s.kind, attributes))
        with self.lock:
            self.spans.extend(decoded)

    def trace(self, trace_id: str) -> list[Span]:
        with self.lock:
            return [s for s in self.spans if s.trace_id == trace_id]


@contextmanager
def otlp_collector() -> Iterator[Collector]:
    collector = Collector(port=0)

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            if self.headers.get("content-encoding") == "gzip":
                body = gzip.decompress(body)
            collector.add(body)
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    with quiet_server(Handler) as port:
        collector.port = port
        yield collector


@pytest.fixture
def collector() -> Iterator[Collector]:
    with otlp_collector() as c:
        yield c


@pytest.fixture
def services(tmp_path: Path, collector: Collector) -> Iterator[tuple[dict, dict]]:
    exporting = {f"{svc.upper()}_OTEL_{name}": value for svc in SERVICES
                 for name, value in (("EXPORTER", "otlp"), ("ENDPOINT", collector.endpoint))}
    # Export within a fifth of a second, not the default 5 s.
    exporting["OTEL_BSP_SCHEDULE_DELAY"] = "200"
    with one_of_each(tmp_path, "trace", extra_env=exporting) as (processes, creds, _):
        yield processes, creds["api_keys"]


def _one(spans: list[Span], service: str, name: str) -> Span:
    found = [s for s in spans if s.service == f"capaflow-{service}" and s.name == name]
    assert len(found) == 1, (service, name, sorted({(s.service, s.name) for s in spans}))
    return found[0]


def test_one_ncs_trace_spans_all_three_services(services: tuple[dict, dict],
                                                 collector: Collector) -> None:
    processes, keys = services
    notifications, nonconformity = processes["notifications"], processes["nonconformity"]
    receiver: Receiver
    with webhook_receiver() as receiver:
        r = httpx.post(f"http://127.0.0.1:{notifications.port}/v1/subscriptions",
                       headers={"Authorization": f"Bearer {keys['manager']}"}, timeout=30,
                       json={"channel": "webhook", "target": receiver.url,
                             "filter": {"event_types": ["capaflow.capa.opened.v1"]}})
        assert r.status_code == 201, r.text

        trace_id, caller_span = uuid.uuid4().hex, uuid.uuid4().hex[:16]
        # Critical: the default escalation policy asks for a CAPA at once.
        r = httpx.post(f"http://127.0.0.1:{nonconformity.port}/v1/nonconformities",
                       headers={"Authorization": f"Bearer {keys['reporter']}",
                                "traceparent": f"00-{trace_id}-{caller_span}-01"}, timeout=30,
                       json={"title": "Label printer prints blank lot numbers",
                             "severity": "critical", "source": "support",
                             "external_ref": f"ZD-{uuid.uuid4().hex[:8]}",
                             "category": "labelling", "affected_item": "line 3"})
        assert r.status_code == 201, r.text
        nc_id = r.json()["id"]

        def whole_trace() -> list[Span] | None:
            spans = collector.trace(trace_id)
            names = {(s.service, s.name) for s in spans}
            wanted = {("capaflow-capa", "consume capaflow.nonconformity.escalated.v1"),
                      ("capaflow-notifications", "consume capaflow.capa.opened.v1"),
                      ("capaflow-notifications", "webhook delivery")}
            return spans if wanted <= names and receiver.requests else None

        spans = poll(whole_trace, timeout=120,
                     message=f"NC {nc_id}'s trace reaching capa and notifications")

    # The intake request: named by route template, a child of the caller's span.
    intake = _one(spans, "nonconformity", "POST /v1/nonconformities")
    assert intake.parent_span_id == caller_span
    # Its SQL statements and its events' Kafka sends are its children.
    intake_children = [s for s in spans if s.parent_span_id == intake.span_id]
    assert any("db.system" in s.attributes for s in intake_children), intake_children
    # (The relay publishes them later, from a background loop, yet in this trace.)
    # The sends are the aiokafka instrumentation's, named "<topic> send".
    sends = [s for s in intake_children if s.name.endswith(" send")]
    assert sends and all(s.attributes["messaging.destination.name"].endswith(
        ".nonconformity.events") for s in sends), sends
    # capa's poll receives the record under its send (the traceparent header the
    # instrumentation injected) ...
    assert any(s.service == "capaflow-capa" and s.name.endswith(" receive")
               and s.parent_span_id in {send.span_id for send in sends} for s in spans), spans
    # ... but the capa consumer continues from the event the request recorded, not
    # from the relay's send (published later, by a background loop).
    consumer = _one(spans, "capa", "consume capaflow.nonconformity.escalated.v1")
    assert consumer.parent_span_id == intake.span_id
    assert any(s.parent_span_id == consumer.span_id and "db.system" in s.attributes
               for s in spans), "the consumer's SQL in its span"
    # The CAPA it opened reaches notifications in the same trace ...
    opened = _one(spans, "notifications", "consume capaflow.capa.opened.v1")
    assert opened.parent_span_id == consumer.span_id
    # ... and the webhook delivery's HTTP request carries the exported client span's id.
    delivery = _one(spans, "notifications", "webhook delivery")
    assert delivery.parent_span_id == consumer.span_id  # capa.opened was recorded there
    (request,) = receiver.requests
    _, sent_trace, sent_span, _ = request.headers["traceparent"].split("-")
    assert sent_trace == trace_id
    http = next(s for s in spans if s.span_id == sent_span)
    assert http.service == "capaflow-notifications" and http.parent_span_id == delivery.span_id
