"""Metrics and JSON logs.

The metric objects live at module level on purpose: Prometheus registries are
process-wide and a metric may be registered once; every service labels its
samples with its own name.
"""

import logging
import sys

from prometheus_client import Counter, Gauge
from pythonjsonlogger.json import JsonFormatter

OUTBOX_BACKLOG = Gauge("capaflow_outbox_backlog", "Outbox rows not yet published", ["service"])
OUTBOX_OLDEST_AGE = Gauge("capaflow_outbox_oldest_age_seconds",
                          "Age of the oldest unpublished outbox row", ["service"])
EVENTS_PUBLISHED = Counter("capaflow_events_published", "Events published by the outbox relay",
                           ["service", "type"])
EVENTS_CONSUMED = Counter("capaflow_events_consumed", "Events handled by a consumer",
                          ["group", "type", "outcome"])
EVENTS_DEAD_LETTERED = Counter("capaflow_events_dead_lettered", "Records sent to a DLQ",
                               ["group", "type"])


def configure_logging(*, service: str, level: str = "INFO", json_logs: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if json_logs:
        handler.setFormatter(JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            static_fields={"service": service},
        ))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiokafka logs every failed reconnect at ERROR; our own retries say it once.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL if level.upper() != "DEBUG"
                                           else logging.DEBUG)
