import pytest
from pydantic import ValidationError

from services.nonconformity.domain import EscalationPolicy, Source
from services.nonconformity.domain.alerts import AlertmanagerPayload, GrafanaPayload, observe
from services.nonconformity.domain.webhooks import MappingFailed, WebhookSource, map_payload
from shared.events.base import Severity

POLICY = EscalationPolicy()

AM_ALERT = {
    "status": "firing",
    "labels": {"alertname": "DiskFull", "severity": "critical", "instance": "db-1:9100",
               "job": "node"},
    "annotations": {"summary": "Disk almost full", "description": "95% used"},
    "startsAt": "2026-11-26T08:00:00.123Z", "endsAt": "0001-01-01T00:00:00Z",
    "generatorURL": "http://prom/graph?g0.expr=x", "fingerprint": "a1b2c3d4e5f60718",
}


def test_alertmanager_alert_maps_title_severity_links_and_open_end() -> None:
    payload = AlertmanagerPayload.model_validate({
        "version": "4", "groupKey": "g", "truncatedAlerts": 2, "status": "firing",
        "receiver": "capaflow", "groupLabels": {}, "commonLabels": {},
        "commonAnnotations": {}, "externalURL": "http://am", "alerts": [AM_ALERT]})
    o = observe(payload.alerts[0], policy=POLICY, severity_label="severity")
    assert o.title == "DiskFull: Disk almost full"
    assert o.severity is Severity.critical
    assert o.firing and o.ended_at is None
    assert o.fingerprint == "a1b2c3d4e5f60718"
    assert o.affected_item == "node"
    assert o.links == [{"url": "http://prom/graph?g0.expr=x", "title": "generator"}]
    assert payload.truncatedAlerts == 2


def test_resolved_alert_keeps_its_end_and_a_custom_severity_label() -> None:
    alert = AM_ALERT | {"status": "resolved", "endsAt": "2026-11-26T09:00:00Z",
                        "labels": AM_ALERT["labels"] | {"priority": "info"}}
    payload = AlertmanagerPayload.model_validate({"version": "4", "status": "resolved",
                                                  "alerts": [alert]})
    o = observe(payload.alerts[0], policy=POLICY, severity_label="priority")
    assert not o.firing and o.ended_at is not None and o.ended_at.hour == 9
    assert o.severity is Severity.observation


def test_other_alertmanager_versions_are_refused() -> None:
    with pytest.raises(ValidationError):
        AlertmanagerPayload.model_validate({"version": "3", "status": "firing", "alerts": []})


def test_grafana_alert_adds_dashboard_and_panel_links() -> None:
    payload = GrafanaPayload.model_validate({
        "receiver": "capaflow", "status": "firing", "orgId": 1, "version": "1",
        "alerts": [AM_ALERT | {"dashboardURL": "http://grafana/d/abc",
                               "panelURL": "http://grafana/d/abc?viewPanel=2",
                               "valueString": "[ var='B' value=97 ]"}],
        "title": "[FIRING:1] DiskFull", "message": "..."})
    o = observe(payload.alerts[0], policy=POLICY, severity_label="severity")
    assert [link["title"] for link in o.links] == ["generator", "dashboard", "panel"]


def test_generic_webhook_mapping_by_dotted_paths() -> None:
    config = WebhookSource(secret="whsec_abcdefgh", title="issue.title", severity="issue.level",
                           external_ref="issue.id", description="issue.body",
                           source=Source.customer)
    fields = map_payload("ci", config, {"issue": {"title": "Build broken", "level": "error",
                                                  "id": 42, "body": "main is red"}}, POLICY)
    assert fields["title"] == "Build broken"
    assert fields["severity"] is Severity.major
    assert fields["external_ref"] == "ci:42"
    assert fields["source"] == "customer"
    assert fields["description"] == "main is red"


def test_generic_webhook_without_title_is_refused() -> None:
    config = WebhookSource(secret="whsec_abcdefgh")
    with pytest.raises(MappingFailed, match="title"):
        map_payload("ci", config, {"name": "x"}, POLICY)
