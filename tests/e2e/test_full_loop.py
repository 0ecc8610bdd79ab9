"""The whole loop end to end: three real processes on real Kafka and
PostgreSQL, driven only over HTTP, checked where a subscriber sees it."""

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import feedparser
import pytest
from standardwebhooks.webhooks import Webhook

from tests.e2e.loop import Loop, Receiver, loop_on_kafka, poll, webhook_receiver

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loop]:
    with loop_on_kafka(tmp_path_factory.mktemp("loop")) as running:
        yield running


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as r:
        yield r


def _capa_of(loop: Loop, nc_id: str) -> dict[str, Any] | None:
    items = loop.call("GET", "capa", "/v1/capas", params={"nonconformity_id": nc_id}).json()
    return items["items"][0] if items["items"] else None


@pytest.mark.requirement("iso9001-10.2.1a", "iso9001-10.2.1d", "cfr820-100a6")
def test_full_loop_from_ticket_to_lesson(loop: Loop, receiver: Receiver) -> None:
    sub = loop.call("POST", "notifications", "/v1/subscriptions", json={
        "channel": "webhook", "target": receiver.url,
        "filter": {"event_types": ["capaflow.capa.*", "capaflow.lesson.*"]}}).json()
    secret = sub["secret"]

    # A critical support ticket ...
    ref = f"ZD-{uuid.uuid4().hex[:8]}"
    trace = uuid.uuid4().hex
    nc_response = loop.call("POST", "nonconformity", "/v1/nonconformities", role="reporter",
                            headers={"traceparent": f"00-{trace}-{uuid.uuid4().hex[:16]}-01"},
                            json={
        "title": "Payment page times out for all card payments", "severity": "critical",
        "source": "support", "external_ref": ref, "category": "payments",
        "affected_item": "checkout"})
    nc = nc_response.json()
    # ... opens a CAPA, and the NC learns it.
    capa = poll(lambda: _capa_of(loop, nc["id"]), message="CAPA opened for the NC")
    capa_id, capa_path = capa["id"], f"/v1/capas/{capa['id']}"
    poll(lambda: loop.call("GET", "nonconformity", f"/v1/nonconformities/{nc['id']}")
         .json()["capa_id"] == capa_id, message="NC linked to its CAPA")

    def move(to: str, role: str = "engineer", **extra: Any) -> None:
        loop.call("POST", "capa", f"{capa_path}/transitions", role=role,
                  json={"to": to, "reason": f"moving to {to}"} | extra)

    move("investigating")
    etag = loop.call("GET", "capa", f"{capa_path}/root-cause", role="engineer").headers["etag"]
    loop.call("PUT", "capa", f"{capa_path}/root-cause", role="engineer",
              headers={"If-Match": etag}, json={
                  "status": "submitted",
                  "problem_statement": "Card payments time out at the payment provider call",
                  "whys": [
                      {"why": "Why do payments time out?", "because": "The pool is exhausted"},
                      {"why": "Why is it exhausted?", "because": "Connections are never freed"},
                      {"why": "Why are they kept?", "because": "Retries skip the release"}],
                  "root_cause": "The retry path does not release provider connections",
                  "cause_category": "process", "contributing_factors": ["no pool metric"]})
    move("action_planned")
    action = loop.call("POST", "capa", f"{capa_path}/actions", role="engineer", json={
        "kind": "corrective", "description": "Release connections in the retry path",
        "owner": "payments-team", "due_date": "2027-01-15"}).json()
    move("implementing")
    action_etag = loop.call("GET", "capa", f"{capa_path}/actions/{action['id']}").headers["etag"]
    loop.call("PATCH", "capa", f"{capa_path}/actions/{action['id']}", role="engineer",
              headers={"If-Match": action_etag},
              json={"status": "done", "completion_evidence": "PR 812 merged and deployed"})
    move("verifying")
    loop.call("PUT", "capa", f"{capa_path}/effectiveness-plan", role="engineer",
              json={"criteria": "No payment timeouts for 14 days",
                    "check_date": datetime.now(UTC).date().isoformat()})
    loop.call("POST", "capa", f"{capa_path}/effectiveness-verifications", role="verifier",
              json={"result": "effective", "evidence": "14 days of monitoring, 0 timeouts"})
    move("closed", role="manager", lesson={
        "what_to_do_differently": "Every retry path must release what it acquired",
        "tags": ["payments", f"run-{ref}"]})

    # The NC closes with its CAPA.
    closed = poll(lambda: (lambda n: n if n["status"] == "closed" else None)(
        loop.call("GET", "nonconformity", f"/v1/nonconformities/{nc['id']}").json()),
        message="NC closed after its CAPA")
    assert capa["number"] in closed["resolution"] and "effective" in closed["resolution"]

    # The lesson is in the Atom feed.
    def lesson_in_feed() -> Any:
        feed = feedparser.parse(loop.call("GET", "notifications", "/v1/feeds/lessons.atom").text)
        return [e for e in feed.entries if "retry path" in (e.get("summary", "") + e.title)]
    entries = poll(lesson_in_feed, message="lesson in the Atom feed")
    assert not feedparser.parse(
        loop.call("GET", "notifications", "/v1/feeds/lessons.atom").text).bozo
    assert entries

    # The manager's webhook got this CAPA's events, in order, each signed.
    def capa_events() -> list[tuple[str, dict[str, Any]]]:
        seen = []
        for request in list(receiver.requests):
            event = json.loads(request.body)
            if event.get("subject") == capa_id:
                seen.append((request.headers["webhook-id"], event))
        return seen
    poll(lambda: any(e["type"] == "capaflow.lesson.published.v1" for _, e in capa_events()),
         message="lesson.published delivered to the webhook")
    verifier = Webhook(secret)
    for request in receiver.requests:
        verifier.verify(request.body, request.headers)  # raises on a bad signature
    delivered = capa_events()
    by_id: dict[str, str] = {}
    for webhook_id, event in delivered:  # a repeated webhook-id is a retry of one event
        assert by_id.setdefault(webhook_id, event["id"]) == event["id"]
    types = list(dict.fromkeys(e["type"].split(".", 2)[2] for _, e in delivered))
    assert types[0] == "opened.v1"
    assert types[-2:] == ["closed.v1", "published.v1"]
    times = [e["time"] for _, e in delivered]
    assert times == sorted(times), "events of one CAPA reach a subscriber in order"
    # The ticket's correlation id and trace reach the CAPA it caused, and its webhook.
    opened = next(e for _, e in delivered if e["type"] == "capaflow.capa.opened.v1")
    assert opened["correlationid"] == nc_response.headers["x-correlation-id"]
    assert opened["traceparent"].split("-")[1] == trace
    opened_request = next(r for r in receiver.requests
                          if json.loads(r.body)["id"] == opened["id"])
    assert opened_request.headers["traceparent"].split("-")[1] == trace


def test_alert_storm_gives_one_nc_per_fingerprint_and_capas_for_recurring(loop: Loop) -> None:
    run = uuid.uuid4().hex[:6]
    alerts = []
    for i in range(1000):
        fp = i % 20
        # Fingerprints 0-9 fire again and again (3 distinct starts: re-firing);
        # 10-19 only repeat one firing.
        start = f"2026-11-25T0{i % 3 if fp < 10 else 0}:00:00Z"
        alerts.append({"status": "firing", "fingerprint": f"{run}-{fp}",
                       "labels": {"alertname": f"Storm{run}x{fp}", "severity": "warning"},
                       "annotations": {"summary": "storm"}, "startsAt": start,
                       "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prom/g"})
    for batch in range(0, 1000, 100):
        loop.call("POST", "nonconformity", "/v1/intake/alertmanager", role="manager",
                  headers={"Authorization":
                           f"Bearer {loop.source_tokens['alertmanager']}"},
                  json={"version": "4", "status": "firing", "receiver": "capaflow",
                        "groupKey": f"storm-{run}", "truncatedAlerts": 0,
                        "alerts": alerts[batch:batch + 100]})

    items = loop.call("GET", "nonconformity", "/v1/nonconformities", role="engineer",
                      params={"text": f"storm{run}", "limit": 200}).json()["items"]
    assert len(items) == 20
    recurring = {i["id"] for i in items if i["escalation_reason"] == "recurrence"}
    assert len(recurring) == 10
    assert all(i["occurrence_count"] == 3 for i in items if i["id"] in recurring)
    poll(lambda: all(_capa_of(loop, nc_id) for nc_id in recurring), timeout=90,
         message="a CAPA for each recurring alert")
    for nc_id in {i["id"] for i in items} - recurring:
        assert _capa_of(loop, nc_id) is None


def test_major_audit_finding_opens_a_capa(loop: Loop) -> None:
    finding = loop.call("POST", "nonconformity", "/v1/audits/IA-E2E/findings", role="verifier",
                        json={"clause": "7.5.3", "finding_type": "major_nc",
                              "title": "Uncontrolled documents at the packing station",
                              "evidence": "Three obsolete work instructions in use",
                              "auditor": "E. Auditor", "process_audited": "Packing"}).json()
    capa = poll(lambda: _capa_of(loop, finding["id"]), message="CAPA for the audit finding")
    assert capa["severity"] == "major"
    assert capa["nonconformity_ids"] == [finding["id"]]


