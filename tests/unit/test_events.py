import re
import uuid

import pytest
from pydantic import ValidationError

from shared.bus.base import ReceivedRecord
from shared.db import utcnow
from shared.events import schemas
from shared.events.catalog import CATALOG, CapaClosed, NonconformityReported, Severity
from shared.events.envelope import (
    UnknownEventType,
    caused_by,
    event_data,
    from_record,
    new_event,
    to_record,
)


def _reported() -> NonconformityReported:
    return NonconformityReported(nonconformity_id=uuid.uuid4(), number="NC-2026-00001",
                                 title="Login fails", severity=Severity.major, source="support",
                                 reported_at=utcnow())


def _received(event_record) -> ReceivedRecord:
    return ReceivedRecord(topic=event_record.topic, partition=0, offset=0, key=event_record.key,
                          value=event_record.value, headers=event_record.headers)


def test_event_survives_the_wire_with_its_envelope() -> None:
    data = _reported()
    event = new_event(service="nonconformity", data=data)
    record = to_record(event, data.topic)

    assert record.topic == "nonconformity.events"
    assert record.key == str(data.nonconformity_id)
    assert dict(record.headers)["content-type"] == b"application/cloudevents+json"
    read = from_record(_received(record))
    assert read.get_id() == event.get_id()
    assert read.get_source() == "/capaflow/nonconformity"
    assert read.get_subject() == str(data.nonconformity_id)
    assert event_data(read) == data


def test_trace_context_travels_as_a_kafka_header_too() -> None:
    from shared.events.envelope import Causation

    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    event = new_event(service="nonconformity", data=_reported(),
                      causation=Causation(traceparent=parent))
    headers = dict(to_record(event, "nonconformity.events").headers)
    assert headers["traceparent"] == parent.encode()
    assert headers["content-type"] == b"application/cloudevents+json"


def test_first_event_correlates_to_itself_and_followers_chain() -> None:
    first = new_event(service="nonconformity", data=_reported())
    assert first.get_extension("correlationid") == first.get_id()
    follower = new_event(service="capa", causation=caused_by(first), data=CapaClosed(
        capa_id=uuid.uuid4(), number="CAPA-2026-00001", closed_by="manager", closed_at=utcnow()))
    assert follower.get_extension("correlationid") == first.get_id()
    assert follower.get_extension("causationid") == first.get_id()


def test_consumers_ignore_fields_they_do_not_know() -> None:
    payload = _reported().model_dump(mode="json") | {"added_in_a_later_release": 1}
    assert NonconformityReported.model_validate(payload).title == "Login fails"


def test_invalid_data_is_rejected() -> None:
    with pytest.raises(ValidationError):
        NonconformityReported.model_validate(_reported().model_dump() | {"severity": "huge"})


def test_unknown_event_type_is_named() -> None:
    from cloudevents.core.v1.event import CloudEvent
    event = CloudEvent({"type": "capaflow.unknown.thing.v1", "source": "/x"}, {})
    with pytest.raises(UnknownEventType, match=r"capaflow\.unknown\.thing\.v1"):
        event_data(event)


def test_catalog_names_follow_the_convention() -> None:
    pattern = re.compile(r"^capaflow\.[a-z_]+\.[a-z_]+\.v\d+$")
    for event_type, model in CATALOG.items():
        assert pattern.match(event_type), event_type
        assert model.topic in {"nonconformity.events", "capa.events", "notifications.events"}
        assert model.subject_field in model.model_fields


@pytest.mark.requirement("part11-11.10k")
def test_committed_json_schemas_are_fresh() -> None:
    assert schemas.main(["--check"]) == 0, "run `make schemas` and commit docs/events/"
