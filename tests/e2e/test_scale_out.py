"""Two replicas of every service, workers on, on one Kafka and one PostgreSQL
database per service; 1,000 NCs posted through both intake replicas; one
replica of each service killed (-9) mid-load. A receiver counts webhook-ids:

- nothing lost: every reported NC, every escalation, every CAPA opened and
  every CAPA overdue notice reaches the subscriber;
- nothing doubled: a webhook-id arrives twice only if it was in flight on the
  killed notifications replica (at most its delivery concurrency of them);
  each overdue notice and the daily digest come once;
- order per subject: an NC's ``reported`` before its ``escalated``, a CAPA's
  ``opened`` before its ``overdue``.
"""

import json
import os
import threading
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared.credentials import provision_dev
from tests.conftest import ROOT, require_kafka, require_postgres
from tests.e2e.load import Load
from tests.e2e.loop import Received, _new_databases, poll, webhook_receiver
from tests.e2e.processes import ServiceProcess, kafka_env, migrate, new_audit_key
from tests.e2e.test_run_services import SERVICES, _free_port

pytestmark = [pytest.mark.chaos, pytest.mark.kafka, pytest.mark.postgres]

TOTAL = 1000
WORKERS = 8
PER_WORKER_RATE = 4.0  # requests/s per client thread: the kills land mid-load
# What one notifications replica may have in flight when it is killed: those
# deliveries are sent again by the survivor once their claims expire.
DELIVERY_CONCURRENCY = 8
EVENT_TYPES = ["capaflow.nonconformity.reported.v1", "capaflow.nonconformity.escalated.v1",
               "capaflow.capa.opened.v1", "capaflow.capa.overdue.v1"]

Replicas = dict[str, list[ServiceProcess]]


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[tuple[Replicas, dict]]:
    bootstrap = require_kafka()
    urls, drop = _new_databases(require_postgres(), len(SERVICES))
    namespace = f"scale-{uuid.uuid4().hex[:8]}."
    logs = ROOT / "var" / "test-logs" / namespace.rstrip(".")
    logs.mkdir(parents=True, exist_ok=True)
    creds = provision_dev(tmp_path / "api-keys.json", tmp_path / "dev-credentials.json")
    processes: Replicas = {}
    try:
        audit_key = new_audit_key()
        for svc, url in zip(SERVICES, urls, strict=True):
            env = os.environ | kafka_env(
                svc, database_url=url, bootstrap=bootstrap, namespace=namespace,
                credentials=tmp_path / "api-keys.json", audit_key=audit_key) | {
                # Every critical NC's CAPA is due yesterday: the overdue job of both
                # capa replicas races to notice each one.
                "CAPA_DUE_DAYS": '{"critical": -1, "major": 60, "minor": 90, "observation": 120}',
                "CAPA_OVERDUE_CHECK_INTERVAL": "1",
                # Both notifications replicas try the daily digest every second.
                "NOTIFICATIONS_DIGEST_CHECK_INTERVAL": "1",
                "NOTIFICATIONS_DELIVERY_CONCURRENCY": str(DELIVERY_CONCURRENCY),
                # A killed replica's claims expire after deadline + margin: short here,
                # so the survivor takes its in-flight deliveries over within the test.
                "NOTIFICATIONS_DELIVERY_TIMEOUT": "5",
                "NOTIFICATIONS_DELIVERY_DEADLINE": "5",
                "NOTIFICATIONS_DELIVERY_CLAIM_MARGIN": "5",
                "NOTIFICATIONS_RETRY_SCHEDULE": "[1, 2, 4, 8, 16, 30]"}
            migrate(svc, env)
            processes[svc] = [ServiceProcess(svc, _free_port(), env, logs / f"{svc}-{i}.log")
                              for i in range(2)]
            for process in processes[svc]:
                process.start()
        yield processes, creds
    finally:
        for group in processes.values():
            for process in group:
                process.stop()
        drop()


def _events(requests: list[Received]) -> list[tuple[str, dict]]:
    return [(r.headers["webhook-id"], json.loads(r.body)) for r in list(requests)]


def test_two_replicas_of_everything_lose_and_double_nothing(replicas, tmp_path: Path) -> None:
    processes, creds = replicas
    keys = creds["api_keys"]
    nc_a, nc_b = processes["nonconformity"]
    notifications = processes["notifications"]
    with webhook_receiver() as events, webhook_receiver() as digests:
        def subscribe(body: dict) -> None:
            r = httpx.post(f"http://127.0.0.1:{notifications[0].port}/v1/subscriptions",
                           headers={"Authorization": f"Bearer {keys['manager']}"}, json=body,
                           timeout=30)
            assert r.status_code == 201, r.text
        subscribe({"channel": "webhook", "target": events.url,
                   "filter": {"event_types": EVENT_TYPES}})
        subscribe({"channel": "webhook", "target": digests.url, "mode": "daily"})

        # Round-robin over both intake replicas, as a load balancer would.
        load = Load(urls=[f"http://127.0.0.1:{p.port}/v1/nonconformities" for p in (nc_a, nc_b)],
                    key=keys["reporter"], total=TOTAL, workers=WORKERS,
                    per_worker_rate=PER_WORKER_RATE)
        loader = threading.Thread(target=load.run, args=(uuid.uuid4().hex[:8],))
        loader.start()
        # Mid-load, once deliveries are flowing: one replica of each service dies.
        poll(lambda: len(load.accepted) >= TOTAL // 3 and len(events.requests) >= 50,
             timeout=180, message="a third of the load accepted and delivering")
        for svc in SERVICES:
            processes[svc][0].kill9()
        survivors = {svc: processes[svc][1] for svc in SERVICES}
        loader.join(timeout=600)
        assert not loader.is_alive()

        assert load.statuses[500] == 0, load.statuses
        assert len(load.accepted) == TOTAL
        accepted_ids = set(load.accepted.values())
        assert len(accepted_ids) == TOTAL, "one NC per ticket, retries on either replica included"

        capa_of: dict[str, str] = {}

        def every_capa_open() -> bool:
            cursor = None
            while True:
                page = survivors["capa"].read("/v1/capas", keys["engineer"], limit=200,
                            **({"cursor": cursor} if cursor else {}))
                for item in page["items"]:
                    for nc_id in item["nonconformity_ids"]:
                        assert capa_of.setdefault(nc_id, item["id"]) == item["id"], \
                            f"two CAPAs for NC {nc_id}"
                cursor = page.get("next_cursor")
                if not cursor:
                    return load.critical <= set(capa_of)
        poll(every_capa_open, timeout=240, message="one CAPA for every critical NC")
        assert set(capa_of) == load.critical
        capas = set(capa_of.values())
        assert len(capas) == len(load.critical)

        def delivered() -> dict[str, set[str]]:
            got: dict[str, set[str]] = defaultdict(set)
            for _, event in _events(events.requests):
                got[event["type"]].add(event["subject"])
            return got

        def complete() -> bool:
            got = delivered()
            return (accepted_ids <= got[EVENT_TYPES[0]] and load.critical <= got[EVENT_TYPES[1]]
                    and capas <= got[EVENT_TYPES[2]] and capas <= got[EVENT_TYPES[3]])
        poll(complete, timeout=300, message="every event delivered to the subscriber")
        poll(lambda: digests.requests, timeout=60, message="the daily digest")

        # Nothing doubled beyond what was in flight on the killed replica.
        received = _events(events.requests)
        per_webhook_id = Counter(webhook_id for webhook_id, _ in received)
        event_of: dict[str, str] = {}
        for webhook_id, event in received:
            assert event_of.setdefault(webhook_id, event["id"]) == event["id"]
        assert len(set(event_of.values())) == len(event_of), \
            "one delivery (webhook-id) per event and subscription"
        per_webhook_id.update(r.headers["webhook-id"] for r in digests.requests)
        resent = {w: n for w, n in per_webhook_id.items() if n > 1}
        assert all(n == 2 for n in resent.values()), resent
        assert len(resent) <= DELIVERY_CONCURRENCY, resent
        overdue = [e for _, e in received if e["type"] == EVENT_TYPES[3]]
        assert len({e["id"] for e in overdue}) == len(capas), "one overdue notice per CAPA"

        # Order per subject: what a subject's first deliveries arrived in.
        first_seen: dict[tuple[str, str], int] = {}
        for i, (_, event) in enumerate(received):
            first_seen.setdefault((event["subject"], event["type"]), i)
        for nc_id in load.critical:
            assert first_seen[(nc_id, EVENT_TYPES[0])] < first_seen[(nc_id, EVENT_TYPES[1])]
        for capa_id in capas:
            assert first_seen[(capa_id, EVENT_TYPES[2])] < first_seen[(capa_id, EVENT_TYPES[3])]

        # The digest: queued once by two racing schedules (one webhook-id; sent
        # twice only if it was in flight on the killed replica, counted above).
        assert len({r.headers["webhook-id"] for r in digests.requests}) == 1
        digest = json.loads(digests.requests[0].body)
        assert digest["data"]["mode"] == "daily" and digest["data"]["open_capas"]
