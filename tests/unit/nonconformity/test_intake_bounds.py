"""Every text a monitoring payload brings in is bounded to its column (cut with
a visible marker), and only http(s) links are kept: no alert is refused or
fails for its size, and none can produce an event over the outbox maximum."""

import json
import uuid
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from services.nonconformity.domain import EscalationPolicy, Source
from services.nonconformity.domain.alerts import AlertmanagerPayload, Observation, observe
from services.nonconformity.domain.bounds import (
    AFFECTED_ITEM_CHARS,
    DESCRIPTION_CHARS,
    TITLE_CHARS,
    TRUNCATION_MARKER,
    bounded,
    web_link,
)
from services.nonconformity.domain.webhooks import WebhookSource, map_payload
from shared.db import create_engine, utcnow
from shared.events.base import NONCONFORMITY_TOPIC
from shared.events.nonconformity import NonconformityReported
from shared.outbox import MAX_EVENT_BYTES, OutboxMessage, record_event

POLICY = EscalationPolicy()


def _observe(**changes: Any) -> Observation:
    alert = {"status": "firing", "labels": {"alertname": "HighErrorRate", "severity": "page"},
             "annotations": {"summary": "5xx above 5%"}, "startsAt": "2026-11-25T08:00:00Z",
             "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "https://prom.local/graph",
             "fingerprint": "a1b2c3d4e5f60718"}
    for key, value in changes.items():
        alert[key] = alert[key] | value if isinstance(value, dict) else value  # type: ignore[operator]
    payload = AlertmanagerPayload.model_validate({"version": "4", "status": "firing",
                                                  "alerts": [alert]})
    return observe(payload.alerts[0], policy=POLICY, severity_label="severity")


def test_a_text_within_its_bound_is_kept_as_it_is() -> None:
    assert bounded("disk 95% full", 20) == "disk 95% full"
    assert bounded("x" * 20, 20) == "x" * 20
    assert bounded(None, 20) is None


def test_a_longer_text_is_cut_to_its_bound_and_says_so() -> None:
    cut = bounded("word " * 100, 60)
    assert cut is not None and 50 < len(cut) <= 60
    assert cut.endswith(TRUNCATION_MARKER) and cut.startswith("word word")


def test_a_one_and_a_half_megabyte_description_is_cut_with_a_marker() -> None:
    o = _observe(annotations={"description": "stack frame\n" * 130_000})
    assert o.description is not None
    assert len(o.description) <= DESCRIPTION_CHARS
    assert o.description.startswith("stack frame\nstack frame")
    assert o.description.endswith(TRUNCATION_MARKER)


def test_a_300_character_service_label_fits_the_affected_item_column() -> None:
    o = _observe(labels={"service": "s" * 300})
    assert o.affected_item is not None and len(o.affected_item) <= AFFECTED_ITEM_CHARS
    assert o.affected_item.endswith(TRUNCATION_MARKER)


def test_a_huge_alert_name_and_summary_give_a_bounded_title_category_and_tag() -> None:
    o = _observe(labels={"alertname": "A" * 5000}, annotations={"summary": "S" * 5000})
    assert len(o.title) <= TITLE_CHARS and o.title.endswith(TRUNCATION_MARKER)
    assert len(o.category) <= 100
    assert all(len(tag) <= 100 for tag in o.tags)


def test_only_http_and_https_links_are_kept() -> None:
    for url in ("javascript:alert(document.domain)", "JavaScript:alert(1)",
                " javascript:alert(1)", "data:text/html,<script>x</script>",
                "vbscript:msgbox", "//prom.local/graph", "http:///no-host", "prom.local/graph",
                "http://[::1", "https://prom.local/" + "q" * 9000):
        assert _observe(generatorURL=url).links == [], url
        assert web_link(url) is None, url
    assert _observe(generatorURL="HTTPS://prom.local/graph?g0.expr=up").links == [
        {"url": "HTTPS://prom.local/graph?g0.expr=up", "title": "generator"}]


def test_odd_unicode_is_kept_and_what_no_database_stores_is_replaced() -> None:
    odd = "\u202eevil\u202c \u0301e\u200d👩‍💻 \ufeff \U0001d54f"
    o = _observe(annotations={"description": odd + "\ud800 lone \x00 nul"})
    assert o.description is not None
    assert o.description.startswith(odd)
    assert "\ufffd lone \ufffd nul" in o.description
    o.description.encode("utf-8")  # strict: would raise on a lone surrogate
    # Cut by code points, as PostgreSQL counts a VARCHAR's length: an astral
    # character is never split.
    emoji = bounded("😀" * 400, TITLE_CHARS)
    assert emoji is not None and len(emoji) == TITLE_CHARS
    emoji.encode("utf-8")


def test_generic_webhook_texts_are_bounded_and_the_reference_fits_its_column() -> None:
    config = WebhookSource(secret="whsec_abcdefgh", source=Source.internal)
    name = "s" * 64
    fields = map_payload(name, config, {"title": "T" * 1000, "description": "d" * 50_000,
                                        "id": "r" * 500, "category": "c" * 500,
                                        "affected_item": "a" * 500}, POLICY)
    assert len(fields["title"]) <= TITLE_CHARS and fields["title"].endswith(TRUNCATION_MARKER)
    assert len(fields["description"]) <= DESCRIPTION_CHARS
    assert len(fields["category"]) <= 100 and len(fields["affected_item"]) <= 200
    assert len(fields["external_ref"]) <= 200 and fields["external_ref"].startswith(name + ":")


def test_the_largest_alert_the_intake_accepts_records_an_event_under_the_maximum() -> None:
    # Control characters take six bytes each in JSON ("\u0001"), the most any
    # character costs, and the reported event carries every bounded field.
    o = _observe(labels={"alertname": "\x01" * 5000, "service": "\x01" * 5000,
                         "category": "\x01" * 5000},
                 annotations={"summary": "\x01" * 5000, "description": "\x01" * 2_000_000})
    event = NonconformityReported(
        nonconformity_id=uuid.uuid4(), number="NC-2026-00001", title=o.title,
        severity=o.severity, source="monitoring", category=o.category,
        affected_item=o.affected_item, tags=o.tags, description=o.description,
        fingerprint=o.fingerprint, reported_by="alertmanager", reported_at=utcnow())
    session = AsyncSession(create_engine("sqlite+aiosqlite://"))
    record_event(session, service="nonconformity", data=event)
    row = next(r for r in session.new if isinstance(r, OutboxMessage))
    assert row.topic == NONCONFORMITY_TOPIC
    assert len(row.value) < MAX_EVENT_BYTES
    assert json.loads(row.value)["data"]["description"].endswith(TRUNCATION_MARKER)


def test_an_overlong_fingerprint_is_kept_as_its_digest_not_refused() -> None:
    long_one, other = "f" * 5000, "f" * 4999 + "e"
    first, again, second = (_observe(fingerprint=fp).fingerprint
                            for fp in (long_one, long_one, other))
    assert len(first) <= 200 and first.startswith("sha256:")
    assert first == again, "the same alert keeps its identity across notifications"
    assert first != second, "two alerts stay two"
    assert _observe(fingerprint="a1b2c3d4e5f60718").fingerprint == "a1b2c3d4e5f60718"


def test_a_lone_surrogate_in_a_fingerprint_is_replaced_not_refused() -> None:
    payload = json.loads('{"version": "4", "status": "firing", "alerts": [{"status": "firing",'
                         ' "labels": {"alertname": "X"}, "startsAt": "2026-12-01T00:00:00Z",'
                         ' "fingerprint": "s1\\udbff"}]}')
    observed = observe(AlertmanagerPayload.model_validate(payload).alerts[0], policy=POLICY,
                       severity_label="severity")
    assert observed.fingerprint == "s1\ufffd"
