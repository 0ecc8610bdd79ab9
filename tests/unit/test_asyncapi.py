"""The committed AsyncAPI document is fresh and says what the catalog says."""

import json
import uuid
from typing import Any

import pytest

from shared.db import utcnow
from shared.events import asyncapi
from shared.events.catalog import CATALOG, CapaOpened, Severity
from shared.events.envelope import Causation, new_event, to_record


def _committed() -> dict[str, Any]:
    return json.loads(asyncapi.OUT_FILE.read_text())


def _inline(node: Any, defs: dict[str, Any], prefix: str) -> Any:
    """``node`` with every ``{"$ref": prefix + name}`` replaced by ``defs[name]``."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(prefix) and len(node) == 1:
            return _inline(defs[ref.removeprefix(prefix)], defs, prefix)
        return {k: _inline(v, defs, prefix) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, defs, prefix) for v in node]
    return node


@pytest.mark.requirement("part11-11.10k")
def test_committed_document_is_fresh() -> None:
    assert asyncapi.main(["--check"]) == 0, "run `make schemas` and commit docs/asyncapi.json"


def test_document_is_asyncapi_3_on_kafka() -> None:
    doc = _committed()
    assert doc["asyncapi"] == "3.0.0"
    assert doc["info"]["title"] and doc["info"]["version"]
    assert {s["protocol"] for s in doc["servers"].values()} == {"kafka"}
    assert doc["servers"]["local"]["host"] == "127.0.0.1:19092"


def test_every_catalog_type_is_exactly_one_message_on_its_topic() -> None:
    doc = _committed()
    assert set(doc["components"]["messages"]) == set(CATALOG)
    on_channels = [t for channel in doc["channels"].values() for t in channel["messages"]]
    assert sorted(on_channels) == sorted(CATALOG), "each type on exactly one channel"
    topics = {model.topic for model in CATALOG.values()}
    for name, channel in doc["channels"].items():
        assert channel["address"] == name and channel["address"] in topics
        for event_type, ref in channel["messages"].items():
            assert CATALOG[event_type].topic == channel["address"]
            assert ref == {"$ref": f"#/components/messages/{event_type}"}


def test_message_payload_is_the_envelope_around_the_model_schema() -> None:
    doc = _committed()
    components = doc["components"]["schemas"]
    for event_type, model in CATALOG.items():
        message = doc["components"]["messages"][event_type]
        assert message["contentType"] == "application/cloudevents+json"
        payload = message["payload"]
        assert payload["properties"]["type"] == {"const": event_type}
        assert set(payload["required"]) >= {"specversion", "id", "source", "type", "subject",
                                            "time", "datacontenttype", "data"}
        data = _inline(payload["properties"]["data"], components, "#/components/schemas/")
        assert data.pop("x-topic") == model.topic
        assert data.pop("x-subject") == model.subject_field
        expected = model.model_json_schema()
        expected = _inline(expected, expected.pop("$defs", {}), "#/$defs/")
        assert data == expected, event_type
        assert message["bindings"]["kafka"]["key"]["type"] == "string"


def test_operations_match_producers_and_the_services_consumer_groups() -> None:
    from services.capa.service import consumers as capa_consumers
    from services.capa.settings import CapaSettings
    from services.nonconformity.service import consumers as nc_consumers
    from services.nonconformity.settings import NonconformitySettings
    from services.notifications.service import consumers as notification_consumers
    from services.notifications.settings import NotificationsSettings

    groups = {sub.group: sorted(sub.topics) for sub in (
        *nc_consumers(NonconformitySettings()), *capa_consumers(CapaSettings()),
        *notification_consumers(NotificationsSettings()))}
    operations = _committed()["operations"].values()
    received = {}
    for op in operations:
        if op["action"] == "receive":
            group = op["bindings"]["kafka"]["groupId"]["enum"][0]
            received.setdefault(group, []).append(op["channel"]["$ref"].rsplit("/", 1)[1])
    assert {g: sorted(t) for g, t in received.items()} == groups
    sent = {op["channel"]["$ref"].rsplit("/", 1)[1]: op["tags"][0]["name"]
            for op in operations if op["action"] == "send"}
    assert sent == {m.topic: m.topic.split(".")[0] for m in CATALOG.values()}


def test_a_real_record_fits_its_documented_envelope() -> None:
    data = CapaOpened(capa_id=uuid.uuid4(), number="CAPA-2026-00001", title="Seal leak",
                      severity=Severity.major, opened_at=utcnow())
    event = new_event(service="capa", data=data, causation=Causation(
        correlation_id="c-1", causation_id="e-0",
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"))
    record = to_record(event, data.topic)
    message = _committed()["components"]["messages"][CapaOpened.event_type]
    value = json.loads(record.value)
    properties = message["payload"]["properties"]
    assert set(value) <= set(properties), "every attribute we write is documented"
    assert set(message["payload"]["required"]) <= set(value)
    for name, schema in properties.items():
        if "const" in schema:
            assert value[name] == schema["const"], name
    assert dict(record.headers)["content-type"].decode() == message["contentType"]
