"""The monthly lessons bulletin's rules: which month, who opted in, what it says."""

from datetime import UTC, datetime, timedelta, timezone

from services.notifications.domain import EventFilter
from services.notifications.domain.bulletin import (
    bulletin_data,
    bulletin_id,
    bulletin_month,
    month_bounds,
    wants_bulletin,
)
from services.notifications.service.feeds import atom, json_feed
from services.notifications.service.messages import Links, describe

LINKS = Links("http://capa", "http://nc")


def test_the_bulletin_covers_the_last_finished_calendar_month_in_utc() -> None:
    start, end, month = bulletin_month(datetime(2027, 1, 1, 0, 30, tzinfo=UTC))
    assert (start, end, month) == (datetime(2026, 12, 1, tzinfo=UTC),
                                   datetime(2027, 1, 1, tzinfo=UTC), "2026-12")
    # 1 March 01:00 in UTC+2 is still February in UTC: January is the last month over.
    east = datetime(2027, 3, 1, 1, 0, tzinfo=timezone(timedelta(hours=2)))
    assert bulletin_month(east)[2] == "2027-01"
    assert bulletin_id("2026-12") == "lessons-bulletin:2026-12"


def test_only_subscriptions_that_ask_for_the_bulletin_get_it() -> None:
    data = {"tags": ["seals", "specs"]}
    assert wants_bulletin(EventFilter(event_types=("lessons.bulletin",)), data)
    assert wants_bulletin(EventFilter(event_types=("capaflow.lessons.*",)), data)
    assert wants_bulletin(EventFilter(event_types=("lessons.bulletin",), tags=("seals",)), data)
    assert not wants_bulletin(EventFilter(event_types=("lessons.bulletin",),
                                          tags=("gauges",)), data)
    assert not wants_bulletin(EventFilter(), data)  # "everything" is no opt-in
    assert not wants_bulletin(EventFilter(event_types=("capaflow.capa.*",)), data)


def _bulletin() -> dict[str, object]:
    lessons = [{"lesson_id": "l1", "capa_id": "c1", "capa_number": "CAPA-2026-00001",
                "title": "Torque <seals>", "what_to_do_differently": "Specify torque",
                "problem": "Seals leaked at the press", "root_cause": "No torque spec",
                "cause_category": "materials_supplier", "tags": ["seals"]},
               {"lesson_id": "l2", "capa_id": "c2", "capa_number": "CAPA-2026-00002",
                "title": "Gauges", "what_to_do_differently": "Calibrate", "tags": ["gauges"]}]
    data = bulletin_data(lessons, start=datetime(2026, 11, 1, tzinfo=UTC),
                         end=datetime(2026, 12, 1, tzinfo=UTC), month="2026-11")
    return {"type": "capaflow.lessons.bulletin.v1", "time": "2026-12-01T00:10:00Z",
            "id": "lessons-bulletin:2026-11", "data": data}


def test_the_bulletin_reads_as_one_message_and_one_feed_entry() -> None:
    envelope = _bulletin()
    data = envelope["data"]
    assert isinstance(data, dict) and data["tags"] == ["gauges", "seals"]
    message = describe(envelope, LINKS)
    assert message.title == "CAPAflow lessons-learned bulletin 2026-11"
    [section] = message.sections
    assert [i["text"] for i in section["items"]] == [
        "CAPA-2026-00001 — Torque <seals>", "CAPA-2026-00002 — Gauges"]
    # What it promises: what went wrong, its root cause, what to do differently.
    assert section["items"][0]["details"] == [
        "What went wrong: Seals leaked at the press",
        "Root cause: No torque spec (Materials and suppliers)",
        "What to do differently: Specify torque"]
    assert section["items"][1]["details"] == ["What to do differently: Calibrate"]
    assert section["items"][0]["link"] == "http://capa/v1/capas/c1"
    feed = json_feed([envelope], self_url="http://f", home_url="http://h", links=LINKS)
    [item] = feed["items"]
    assert item["id"] == "urn:capaflow:lessons-bulletin:2026-11"
    assert "Specify torque" in item["content_text"] and item["tags"] == ["gauges", "seals"]
    xml = atom([envelope], self_url="http://f", links=LINKS, now=datetime.now(UTC))
    assert "<id>urn:capaflow:lessons-bulletin:2026-11</id>" in xml
    assert "Torque &lt;seals&gt;" in xml


def test_a_preview_month_is_yyyy_mm_or_refused() -> None:
    assert month_bounds("2026-12") == (datetime(2026, 12, 1, tzinfo=UTC),
                                       datetime(2027, 1, 1, tzinfo=UTC), "2026-12")
    for odd in ("2026-13", "2026-00", "2026-1", "0000-01", "9999-12", "2026-12-01", "",
                "abcd-ef", "\uff12\uff10\uff12\uff16-12", "2026-12\n"):
        try:
            month_bounds(odd)
        except ValueError:
            continue
        raise AssertionError(f"{odd!r} accepted")
