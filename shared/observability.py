"""Metrics and JSON logs.

The metric objects live at module level on purpose: Prometheus registries are
process-wide and a metric may be registered once; every service labels its
samples with its own name.
"""

import logging
import sys

from prometheus_client import Counter, Gauge, Histogram
from pythonjsonlogger.json import JsonFormatter

from shared import tracing

OUTBOX_BACKLOG = Gauge("capaflow_outbox_backlog", "Outbox rows not yet published", ["service"])
OUTBOX_OLDEST_AGE = Gauge("capaflow_outbox_oldest_age_seconds",
                          "Age of the oldest unpublished outbox row", ["service"])
OUTBOX_DEAD_LETTERS = Gauge("capaflow_outbox_dead_letters",
                            "Outbox rows the bus refused, waiting for a replay or discard",
                            ["service"])
OUTBOX_DEAD_LETTERED = Counter("capaflow_outbox_dead_lettered",
                               "Outbox rows the bus refused for good, set aside by the relay",
                               ["service", "event_type"])
EVENTS_PUBLISHED = Counter("capaflow_events_published", "Events published by the outbox relay",
                           ["service", "type"])
EVENTS_CONSUMED = Counter("capaflow_events_consumed", "Events handled by a consumer",
                          ["group", "type", "outcome"])
EVENTS_DEAD_LETTERED = Counter("capaflow_events_dead_lettered", "Records sent to a DLQ",
                               ["group", "type"])

HTTP_LATENCY = Histogram("capaflow_http_request_duration_seconds", "HTTP request latency",
                         ["service", "method", "route", "status"],
                         buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
CONSUMER_LAG = Gauge("capaflow_consumer_lag", "Records not yet consumed, per partition",
                     ["group", "topic", "partition"])


class _TraceFields(logging.Filter):
    """Puts the current correlation id and traceparent on every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = tracing.current()
        if context.correlation_id and not hasattr(record, "correlation_id"):
            record.correlation_id = context.correlation_id
        if context.traceparent and not hasattr(record, "traceparent"):
            record.traceparent = context.traceparent
        return True


def configure_logging(*, service: str, level: str = "INFO", json_logs: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if json_logs:
        handler.setFormatter(JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            static_fields={"service": service},
        ))
    handler.addFilter(_TraceFields())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiokafka logs every failed reconnect at ERROR; our own retries say it once.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL if level.upper() != "DEBUG"
                                           else logging.DEBUG)
