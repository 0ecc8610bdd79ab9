"""Generate the AsyncAPI 3.0 document of every CAPAflow event into docs/asyncapi.json.

``python -m shared.events.asyncapi`` writes it; ``--check`` exits 1 when the
committed file is stale (run by the unit tests). Like docs/events/, it is
derived from the catalog and never edited by hand: each message's ``data``
is the JSON Schema that ``shared.events.schemas.render`` publishes.

One document describes all three services, so every operation is tagged
with the service that performs it.
"""

import json
import re
import sys
from typing import Any

from shared.events.base import CAPA_TOPIC, NONCONFORMITY_TOPIC, NOTIFICATIONS_TOPIC
from shared.events.catalog import CATALOG
from shared.events.schemas import OUT_DIR, render

OUT_FILE = OUT_DIR.parent / "asyncapi.json"

KAFKA_BINDING = "0.5.0"
CONTENT_TYPE = "application/cloudevents+json"

# Who writes each topic: one topic per producing service (DESIGN.md §2).
PRODUCERS = {NONCONFORMITY_TOPIC: "nonconformity", CAPA_TOPIC: "capa",
             NOTIFICATIONS_TOPIC: "notifications"}
# Consumer group (= service) -> topics it reads. shared/ must not import the
# services, so this mirrors their SUBSCRIPTIONS tables; a unit test keeps it honest.
CONSUMERS = {"nonconformity": [CAPA_TOPIC], "capa": [NONCONFORMITY_TOPIC],
             "notifications": [NONCONFORMITY_TOPIC, CAPA_TOPIC]}

_LOCAL_DEF = re.compile(r"^#/\$defs/(.+)$")


def _relocate(node: Any) -> Any:
    """Point ``#/$defs/X`` at ``#/components/schemas/X``: inside this document a
    local reference resolves against the document root, not the event schema."""
    if isinstance(node, dict):
        return {k: (_LOCAL_DEF.sub(r"#/components/schemas/\1", v) if k == "$ref"
                    and isinstance(v, str) else _relocate(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_relocate(v) for v in node]
    return node


def _data_schemas() -> dict[str, Any]:
    """components.schemas: one entry per event type plus the shared definitions."""
    published = render()
    schemas: dict[str, Any] = {}
    for event_type in sorted(CATALOG):
        schema = json.loads(published[f"{event_type}.schema.json"])
        # Dropped: an embedded $id would rebase the relocated references.
        schema.pop("$id", None)
        for name, definition in schema.pop("$defs", {}).items():
            if schemas.setdefault(name, definition) != definition:
                raise ValueError(f"two event types define {name!r} differently")
        schemas[event_type] = _relocate(schema)
    return schemas


def _envelope(event_type: str, subject: dict[str, Any]) -> dict[str, Any]:
    """The record value: a CloudEvent in structured mode, ``data`` = the event type's schema."""
    model = CATALOG[event_type]
    string = {"type": "string"}
    return {
        "type": "object",
        "required": ["specversion", "id", "source", "type", "subject", "time",
                     "datacontenttype", "correlationid", "data"],
        "properties": {
            "specversion": {"const": "1.0"},
            "id": {**string, "format": "uuid",
                   "description": "Unique per event; the same on every redelivery."},
            "source": {"const": f"/capaflow/{PRODUCERS[model.topic]}"},
            "type": {"const": event_type},
            "subject": {**subject, "description":
                        f"The aggregate id ({model.subject_field}); also the Kafka key."},
            "time": {**string, "format": "date-time"},
            "datacontenttype": {"const": "application/json"},
            "correlationid": {**string,
                              "description": "Id of the first event of the chain."},
            "causationid": {**string, "description": "Id of the event that caused this one."},
            "traceparent": {**string, "description": "W3C trace context.",
                            "pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"},
            "data": {"$ref": f"#/components/schemas/{event_type}"},
        },
    }


def _message(event_type: str, data_schema: dict[str, Any]) -> dict[str, Any]:
    model = CATALOG[event_type]
    subject = {k: v for k, v in data_schema["properties"][model.subject_field].items()
               if k in ("type", "format")}
    message: dict[str, Any] = {
        "name": event_type,
        "title": model.__name__,
        "contentType": CONTENT_TYPE,
        "headers": {"$ref": "#/components/schemas/KafkaHeaders"},
        "payload": _envelope(event_type, subject),
        "correlationId": {"$ref": "#/components/correlationIds/correlationid"},
        "tags": [{"name": event_type.split(".")[1]}],
        "bindings": {"kafka": {"key": {**subject, "description":
                                       f"The aggregate id ({model.subject_field})."},
                               "bindingVersion": KAFKA_BINDING}},
    }
    if model.__doc__:
        message["summary"] = " ".join(model.__doc__.split())
    return message


def _operation(*, service: str, action: str, topic: str) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "action": action,
        "channel": {"$ref": f"#/channels/{topic}"},
        "summary": (f"The {service} service publishes to {topic}." if action == "send" else
                    f"The {service} service reads {topic} as consumer group {service}."),
        "tags": [{"name": service}],
        "messages": [{"$ref": f"#/channels/{topic}/messages/{event_type}"}
                     for event_type in sorted(CATALOG) if CATALOG[event_type].topic == topic],
    }
    if action == "receive":
        # Replicas of a service share its group, so each record is handled once per service.
        operation["bindings"] = {"kafka": {"groupId": {"type": "string", "enum": [service]},
                                           "bindingVersion": KAFKA_BINDING}}
    return operation


def document() -> dict[str, Any]:
    schemas = _data_schemas()
    schemas["KafkaHeaders"] = {
        "type": "object", "required": ["content-type"],
        "properties": {"content-type": {"const": CONTENT_TYPE}},
        "description": "CloudEvents Kafka binding, structured mode: the value is the event.",
    }
    topics = sorted(PRODUCERS)
    channels = {topic: {
        "address": topic,
        "description": f"Events of the {PRODUCERS[topic]} service, keyed by aggregate id so "
                       "each aggregate's events stay in order.",
        "messages": {t: {"$ref": f"#/components/messages/{t}"}
                     for t in sorted(CATALOG) if CATALOG[t].topic == topic},
        "bindings": {"kafka": {"topic": topic, "bindingVersion": KAFKA_BINDING}},
    } for topic in topics}
    operations = {f"{PRODUCERS[topic]}.send.{topic}": _operation(
        service=PRODUCERS[topic], action="send", topic=topic) for topic in topics}
    operations |= {f"{group}.receive.{topic}": _operation(
        service=group, action="receive", topic=topic)
        for group, read in sorted(CONSUMERS.items()) for topic in read}
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "CAPAflow events",
            "version": "1.0.0",
            "description": "Events between the nonconformity, capa and notifications "
                           "services: CloudEvents 1.0 in structured JSON mode on Kafka. "
                           "Types are versioned in their names (capaflow.<aggregate>."
                           "<verb>.v<N>); consumers ignore fields they do not know. "
                           "Dead letters go to <consumer-group>.dlq (docs/operations.md).",
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {"local": {
            "host": "127.0.0.1:19092", "protocol": "kafka",
            "description": "The single-node broker of `make infra-up`.",
        }},
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": schemas,
            "messages": {t: _message(t, schemas[t]) for t in sorted(CATALOG)},
            "correlationIds": {"correlationid": {
                "description": "Shared by every event of one chain (NC -> CAPA -> webhook).",
                "location": "$message.payload#/correlationid",
            }},
        },
    }


def render_document() -> str:
    return json.dumps(document(), indent=2) + "\n"


def main(argv: list[str]) -> int:
    text = render_document()
    if "--check" in argv:
        if not OUT_FILE.is_file() or OUT_FILE.read_text() != text:
            print(f"stale {OUT_FILE.name} (run python -m shared.events.asyncapi)")
            return 1
        return 0
    OUT_FILE.write_text(text)
    print(f"wrote {OUT_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
