import random
from datetime import UTC, datetime, timedelta

import pytest

from services.notifications.domain import (
    CapaBook,
    DeliveryMode,
    EventFilter,
    Outcome,
    classify_response,
    digest_period,
    next_attempt_delay,
    parse_networks,
    parse_retry_after,
    refused_address,
)

NC = {"nonconformity_id": "nc-1", "severity": "major", "source": "alertmanager",
      "category": "process", "tags": ["pump", "seal"], "owner": "ana"}


@pytest.mark.parametrize("filter_, event_type, data, expected", [
    (EventFilter(), "capaflow.capa.opened.v1", {}, True),
    (EventFilter(event_types=("capaflow.capa.*",)), "capaflow.capa.closed.v1", {}, True),
    (EventFilter(event_types=("capaflow.capa.*",)), "capaflow.nonconformity.reported.v1",
     NC, False),
    (EventFilter(event_types=("*.escalated.v1", "capaflow.lesson.*")),
     "capaflow.nonconformity.escalated.v1", NC, True),
    (EventFilter(min_severity="major"), "x", NC, True),
    (EventFilter(min_severity="critical"), "x", NC, False),
    (EventFilter(min_severity="minor"), "x", {}, False),  # no severity: cannot prove it
    (EventFilter(sources=("alertmanager", "grafana")), "x", NC, True),
    (EventFilter(sources=("support",)), "x", NC, False),
    (EventFilter(categories=("process",)), "x", NC, True),
    (EventFilter(tags=("seal", "valve")), "x", NC, True),
    (EventFilter(tags=("valve",)), "x", NC, False),
    (EventFilter(owners=("ana",)), "x", NC, True),
    (EventFilter(owners=("bo",)), "x", NC, False),
    (EventFilter(nonconformity_id="nc-1"), "x", NC, True),
    (EventFilter(nonconformity_id="nc-1"), "x", {"nonconformity_ids": ["nc-0", "nc-1"]}, True),
    (EventFilter(nonconformity_id="nc-2"), "x", NC, False),
    (EventFilter(capa_id="c-1"), "x", {"capa_id": "c-1"}, True),
    (EventFilter(capa_id="c-1"), "x", NC, False),
    (EventFilter(min_severity="major", tags=("pump",), sources=("support",)), "x", NC, False),
])
def test_filter_matching(filter_: EventFilter, event_type: str, data: dict[str, object],
                         expected: bool) -> None:
    assert filter_.matches(event_type, data) is expected


def test_filter_round_trips_from_stored_json() -> None:
    f = EventFilter.from_dict({"event_types": ["a.*"], "min_severity": "minor",
                               "capa_id": None, "tags": ["x"]})
    assert f == EventFilter(event_types=("a.*",), min_severity="minor", tags=("x",))


def test_retry_schedule_backs_off_with_jitter_then_dead_letters() -> None:
    rng = random.Random(7)
    schedule = [5.0, 300.0, 1800.0]
    delays = [next_attempt_delay(attempts=n, schedule=schedule, jitter=0.2, rng=rng)
              for n in (1, 2, 3)]
    for delay, base in zip(delays, schedule, strict=True):
        assert delay is not None and base * 0.8 <= delay <= base * 1.2
    assert next_attempt_delay(attempts=4, schedule=schedule) is None


def test_retry_after_is_a_floor() -> None:
    assert next_attempt_delay(attempts=1, schedule=[1.0], retry_after=30.0) == 30.0
    delay = next_attempt_delay(attempts=1, schedule=[100.0], retry_after=1.0, jitter=0)
    assert delay == 100.0


def test_default_schedule_spans_about_a_day() -> None:
    from services.notifications.domain import DEFAULT_RETRY_SCHEDULE

    assert timedelta(hours=20) < timedelta(seconds=sum(DEFAULT_RETRY_SCHEDULE)) \
        < timedelta(hours=36)


def test_parse_retry_after() -> None:
    now = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after("Thu, 26 Nov 2026 08:01:00 GMT", now) == 60.0
    assert parse_retry_after("-5", now) == 0.0
    assert parse_retry_after("999999999", now) == 86400.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


@pytest.mark.parametrize("status, outcome", [
    (200, Outcome.delivered), (204, Outcome.delivered), (410, Outcome.gone),
    (429, Outcome.retry), (500, Outcome.retry), (503, Outcome.retry), (408, Outcome.retry),
    (400, Outcome.failed), (401, Outcome.failed), (404, Outcome.failed),
    (301, Outcome.failed),
])
def test_classify_response(status: int, outcome: Outcome) -> None:
    assert classify_response(status).outcome is outcome


@pytest.mark.parametrize("address, refused", [
    ("10.0.0.1", True), ("172.16.5.4", True), ("192.168.0.1", True),
    ("169.254.169.254", True), ("127.0.0.1", True), ("::1", True), ("0.0.0.0", True),
    ("fe80::1", True), ("fc00::1", True), ("::ffff:10.0.0.1", True), ("100.64.0.1", True),
    ("224.0.0.1", True), ("93.184.216.34", False), ("2606:4700::6810:85e5", False),
])
def test_ssrf_classification(address: str, refused: bool) -> None:
    assert (refused_address(address, ()) is not None) is refused


def test_allow_list_permits_exactly_its_networks() -> None:
    allowed = parse_networks(["127.0.0.0/8"])
    assert refused_address("127.0.0.1", allowed) is None
    assert refused_address("::ffff:127.0.0.1", allowed) is None
    assert refused_address("10.0.0.1", allowed) is not None
    assert refused_address("::1", allowed) is not None


def test_digest_periods() -> None:
    thursday = datetime(2026, 11, 26, 7, 30, tzinfo=UTC)
    assert digest_period(DeliveryMode.daily, thursday) == (
        datetime(2026, 11, 25, tzinfo=UTC), datetime(2026, 11, 26, tzinfo=UTC))
    assert digest_period(DeliveryMode.weekly, thursday) == (
        datetime(2026, 11, 16, tzinfo=UTC), datetime(2026, 11, 23, tzinfo=UTC))


def test_capa_book_tracks_open_and_overdue() -> None:
    book = CapaBook()
    book.apply("capaflow.capa.opened.v1", {"capa_id": "a", "title": "A", "due_date": "2026-11-01"})
    book.apply("capaflow.capa.opened.v1", {"capa_id": "b", "title": "B", "due_date": "2026-12-31"})
    book.apply("capaflow.capa.opened.v1", {"capa_id": "c", "title": "C"})
    book.apply("capaflow.capa.closed.v1", {"capa_id": "c"})
    book.apply("capaflow.capa.opened.v1", {"capa_id": "d", "title": "D"})
    book.apply("capaflow.capa.cancelled.v1", {"capa_id": "d"})
    book.apply("capaflow.lesson.published.v1", {"capa_id": "b"})
    # An action's due date is not the CAPA's.
    book.apply("capaflow.capa.action_added.v1", {"capa_id": "b", "due_date": "2026-01-01"})
    book.apply("capaflow.capa.opened.v1", {"capa_id": "e", "title": "E"})
    book.apply("capaflow.capa.overdue.v1", {"capa_id": "e", "due_date": "2026-11-20"})
    assert set(book.open) == {"a", "b", "e"}
    now = datetime(2026, 11, 26, tzinfo=UTC)
    assert [c["title"] for c in book.overdue(now)] == ["A", "E"]
