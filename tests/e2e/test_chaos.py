"""Faults while 2,000 NCs are posted: the Kafka broker killed (-9) and
restarted, each service killed (-9) and restarted, PostgreSQL stopped for
20 s. Afterwards nothing accepted is lost, nothing is doubled, nothing sits
in a dead-letter queue, and the outage was a 503, never a 500."""

import asyncio
import json
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared.bus.kafka import KafkaBus
from tests.conftest import ROOT, require_kafka
from tests.e2e.load import Load
from tests.e2e.loop import poll, webhook_receiver
from tests.e2e.processes import ServiceProcess, one_of_each
from tests.e2e.test_run_services import SERVICES

pytestmark = [pytest.mark.chaos, pytest.mark.kafka, pytest.mark.postgres]

TOTAL = 2000
WORKERS = 8
PER_WORKER_RATE = 3.5  # requests/s per worker: the load spans the whole fault sequence
HELD = WORKERS * 25  # requests kept for the database outage (see below)
def _script(path: str, command: str) -> None:
    subprocess.run([str(ROOT / path), command], check=True, timeout=240,
                   capture_output=True)


@pytest.fixture
def services(tmp_path: Path) -> Iterator[tuple[dict[str, ServiceProcess], dict, str]]:
    def restore_infrastructure() -> None:
        # Whatever happened, leave the suite its broker and database.
        _script("deploy/postgres/postgres.sh", "up")
        _script("deploy/kafka/kafka.sh", "up")

    with one_of_each(tmp_path, "chaos",
                     extra_env={"NOTIFICATIONS_RETRY_SCHEDULE": "[1, 2, 4, 8, 16, 30, 60]"},
                     before_cleanup=restore_infrastructure) as started:
        yield started


def _all_capas(capa: ServiceProcess, key: str) -> list[dict]:
    items: list[dict] = []
    cursor = None
    while True:
        page = capa.read("/v1/capas", key, limit=200, **({"cursor": cursor} if cursor else {}))
        items += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            return items


def test_nothing_accepted_is_lost_under_faults(services, tmp_path: Path) -> None:
    processes, creds, namespace = services
    keys = creds["api_keys"]
    nc, capa, notifications = (processes[s] for s in SERVICES)
    with webhook_receiver() as receiver:
        sub = httpx.post(f"http://127.0.0.1:{notifications.port}/v1/subscriptions",
                         headers={"Authorization": f"Bearer {keys['manager']}"}, json={
                             "channel": "webhook", "target": receiver.url,
                             "filter": {"event_types": ["capaflow.nonconformity.reported.v1",
                                                        "capaflow.capa.opened.v1"]}})
        assert sub.status_code == 201, sub.text

        # The last HELD requests wait until the database outage starts: on a busy
        # machine the broker and process restarts before it can outlast the rest of
        # the load, and the outage must meet writes to show they answer 503.
        load = Load(urls=[f"http://127.0.0.1:{nc.port}/v1/nonconformities"],
                    key=keys["reporter"], total=TOTAL, workers=WORKERS,
                    per_worker_rate=PER_WORKER_RATE, hold_from=TOTAL - HELD)
        loader = threading.Thread(target=load.run, args=(uuid.uuid4().hex[:8],))
        loader.start()
        time.sleep(3)

        _script("deploy/kafka/kafka.sh", "kill9")
        time.sleep(3)
        _script("deploy/kafka/kafka.sh", "up")
        for process in (nc, capa, notifications):
            process.kill9()
            time.sleep(1)
            process.start()
        seen_before = load.statuses[503]
        _script("deploy/postgres/postgres.sh", "down")
        load.released.set()
        time.sleep(20)
        _script("deploy/postgres/postgres.sh", "up")
        assert load.statuses[503] > seen_before, "writes during the outage answered 503"
        loader.join(timeout=400)
        assert not loader.is_alive()

        assert load.statuses[500] == 0 and load.unavailable_without_retry_after == 0
        assert len(load.accepted) == TOTAL, "every request got through once things recovered"
        accepted_ids = set(load.accepted.values())
        assert len(accepted_ids) == TOTAL, "one NC per ticket, retries included"

        # Every accepted NC exists.
        listed: set[str] = set()
        cursor = None
        while True:
            page = nc.read("/v1/nonconformities", keys["engineer"], limit=200,
                        **({"cursor": cursor} if cursor else {}))
            listed |= {i["id"] for i in page["items"]}
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert accepted_ids <= listed

        # Every escalation has exactly one CAPA.
        def capas_by_nc() -> Counter[str]:
            return Counter(n for c in _all_capas(capa, keys["engineer"])
                           for n in c["nonconformity_ids"])
        poll(lambda: load.critical <= set(capas_by_nc()), timeout=180,
             message="a CAPA for every critical NC")
        counts = capas_by_nc()
        assert all(counts[n] == 1 for n in load.critical)
        assert not set(counts) - load.critical

        # The subscriber got every expected event; repeats only as retries.
        def delivered() -> dict[str, set[str]]:
            got: dict[str, set[str]] = {"reported": set(), "opened": set()}
            for request in list(receiver.requests):
                event = json.loads(request.body)
                kind = event["type"].split(".")[2]
                if kind == "reported":
                    got["reported"].add(event["subject"])
                elif kind == "opened":
                    got["opened"].add(event["data"]["nonconformity_id"])
            return got
        poll(lambda: (lambda d: accepted_ids <= d["reported"] and load.critical <= d["opened"])(
            delivered()), timeout=240, message="every event delivered to the subscriber")
        by_webhook_id: dict[str, str] = {}
        for request in receiver.requests:
            event_id = json.loads(request.body)["id"]
            assert by_webhook_id.setdefault(request.headers["webhook-id"], event_id) == event_id
        by_event: Counter[str] = Counter(json.loads(r.body)["id"] for r in receiver.requests)
        repeated = {e for e, n in by_event.items() if n > 1}
        webhook_ids = {json.loads(r.body)["id"]: r.headers["webhook-id"]
                       for r in receiver.requests}
        assert all(len({r.headers["webhook-id"] for r in receiver.requests
                        if json.loads(r.body)["id"] == e}) == 1 for e in repeated), webhook_ids

    # Nothing sits in a dead-letter queue.
    async def dead_letters() -> int:
        bus = KafkaBus(bootstrap_servers=require_kafka(), client_id="chaos-dlq",
                       namespace=namespace)
        sub = bus.subscribe(group="chaos-dlq-reader",
                            topics=[f"{group}.dlq" for group in SERVICES])
        await sub.start()
        try:
            return len(await sub.fetch(max_records=100, timeout=3.0))
        finally:
            await sub.stop()
            await bus.stop()
    assert asyncio.run(dead_letters()) == 0
