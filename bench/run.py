"""`make bench`: CAPAflow against baselines measured in the same run (issue 7).

    python -m bench.run [--quick] [--out var/bench]

Needs the Kafka broker and PostgreSQL of `deploy/infra.sh up` (bench/bench.sh
starts them when they are down and stops them again afterwards). Creates
throwaway databases and consumer groups of its own, starts the services as
real uvicorn processes (one worker each), prints progress, then a table of
ratios, and writes JSON to var/bench/<timestamp>.json and var/bench/latest.json.
"""

import argparse
import asyncio
import json
import os
import platform
import subprocess
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench import floor as floor_probes
from bench.kafka_tools import (
    CapaOpenedObserver,
    delete_topics,
    group_lag,
    start_group_at_end,
)
from bench.loadgen import nc_body, percentile
from bench.procs import (
    PYTHON,
    ROOT,
    Databases,
    Proc,
    Processes,
    cpu_seconds,
    migrate,
    vm_hwm_kib,
    wait_http,
    write_keys,
)
from bench.profile import Profiler
from bench.relay import measure_relay

KAFKA = f"127.0.0.1:{os.environ.get('KAFKA_PORT', '19092')}"
PG_ADMIN = f"postgresql://postgres@127.0.0.1:{os.environ.get('PG_PORT', '15432')}/postgres"


@dataclass
class Config:
    # Row 1: closed loop, this many concurrent keep-alive connections.
    nc_concurrency: int = 8
    nc_warmup: float = 3.0
    nc_round: float = 8.0           # two rounds per target, interleaved bare/service
    # Row 2: concurrent Alertmanager payloads of 100 alerts.
    alert_concurrency: int = 4
    alert_warmup: float = 3.0
    alert_duration: float = 15.0
    # Row 3: outbox rows per round (two rounds, interleaved relay/raw).
    relay_records: int = 10_000
    # Row 4.
    e2e_rate: float = 100.0
    e2e_duration: float = 15.0
    e2e_drain_timeout: float = 90.0
    # Row 4b (information): the same path at a rate the machine sustains.
    e2e_low_rate: float = 10.0
    e2e_low_duration: float = 10.0
    floor_samples: int = 300
    # Row 5.
    subscriptions: int = 500
    fanout_rounds: int = 3
    delivery_concurrency: int = 50  # NOTIFICATIONS_DELIVERY_CONCURRENCY's default

    @classmethod
    def quick(cls) -> "Config":
        return cls(nc_warmup=1, nc_round=3, alert_warmup=1, alert_duration=4,
                   relay_records=2000, e2e_duration=4, e2e_low_duration=3,
                   e2e_drain_timeout=60, floor_samples=100,
                   subscriptions=100, fanout_rounds=1)


@dataclass
class Row:
    number: str
    measure: str
    target: str
    value: str = "n/a"
    baseline: str = "n/a"
    ratio: float | None = None
    ok: bool | None = None
    note: str = ""
    details: dict[str, Any] = field(default_factory=dict)


class Bench:
    def __init__(self, config: Config, out: Path, only: set[str] | None = None) -> None:
        self.config = config
        # Rows to run (None: all). Rows 4 and 5 start the downstream services.
        self.only = only
        self.out = out
        self.run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        self.tag = uuid.uuid4().hex[:8]
        self.started = time.monotonic()
        self.processes = Processes(out / "logs" / self.run_id)
        self.dbs = Databases(PG_ADMIN, f"bench_{self.tag}")
        self.keys: dict[str, str] = {}
        self.keys_file = out / "logs" / self.run_id / "api-keys.json"
        self.rows: list[Row] = []
        self.topics: list[str] = []
        self.groups = {svc: f"bench-{self.tag}-{svc}"
                       for svc in ("nonconformity", "capa", "notifications")}
        self.nc: Proc | None = None
        self.bare: Proc | None = None
        self.receiver: Proc | None = None
        self.capa: Proc | None = None
        self.notifications: Proc | None = None
        self.db_urls: dict[str, tuple[str, str]] = {}
        self.row1_service_rps: float | None = None
        self.row4_result: dict[str, Any] | None = None

    # --- output -------------------------------------------------------------

    def say(self, message: str) -> None:
        print(f"[bench {time.monotonic() - self.started:5.0f} s] {message}", flush=True)

    # --- processes -----------------------------------------------------------

    def service_env(self, svc: str) -> dict[str, str]:
        prefix = svc.upper()
        env = {
            f"{prefix}_DATABASE_URL": self.db_urls[svc][0],
            f"{prefix}_BUS": "kafka",
            f"{prefix}_KAFKA_BOOTSTRAP_SERVERS": KAFKA,
            f"{prefix}_CREDENTIALS_FILE": str(self.keys_file),
            f"{prefix}_LOG_LEVEL": "WARNING",
            # A group of its own: on the shared Kafka the services' default groups
            # would take partitions away from other engineers' running services.
            f"{prefix}_CONSUMER_GROUP": self.groups[svc],
        }
        if svc == "notifications":
            env["NOTIFICATIONS_ALLOWED_NETWORKS"] = '["127.0.0.0/8"]'
        return env

    async def start_service(self, svc: str, topics: list[str]) -> Proc:
        await start_group_at_end(KAFKA, self.groups[svc], topics)
        proc = self.processes.uvicorn(svc, f"services.{svc}.app:create_app",
                                      env=self.service_env(svc))
        await asyncio.to_thread(wait_http, proc, "/readyz", 120)
        return proc

    async def setup(self) -> None:
        self.say(f"run {self.run_id}: throwaway databases bench_{self.tag}_*, consumer groups "
                 f"bench-{self.tag}-*, logs in {self.processes.log_dir}")
        self.keys = write_keys(self.keys_file)
        for svc in ("nonconformity", "capa", "notifications", "scratch"):
            self.db_urls[svc] = await self.dbs.create(svc[:5])
        self.say("migrating the nonconformity service's database")
        await asyncio.to_thread(migrate, "nonconformity", self.db_urls["nonconformity"][0],
                                self.processes.log_dir)
        self.bare = self.processes.uvicorn("bare", "bench.bare_app:create_app")
        self.receiver = self.processes.uvicorn("receiver", "bench.receiver:create_app")
        await asyncio.to_thread(wait_http, self.bare)
        await asyncio.to_thread(wait_http, self.receiver)
        self.say("starting the nonconformity service (PostgreSQL, kafka bus, one worker)")
        self.nc = await self.start_service("nonconformity", ["capa.events"])

    async def teardown(self) -> None:
        self.processes.stop_all()
        try:
            await self.dbs.drop_all()
        except Exception as exc:
            self.say(f"dropping the bench databases failed: {exc}")
        try:
            await delete_topics(KAFKA, self.topics + [f"{g}.dlq" for g in self.groups.values()])
        except Exception as exc:
            self.say(f"deleting the bench topics failed: {exc}")

    # --- helpers ---------------------------------------------------------------

    async def loadgen(self, label: str, url: str, *extra: str) -> dict[str, Any]:
        proc = await asyncio.create_subprocess_exec(
            PYTHON, "-m", "bench.loadgen", "--url", url, "--label", label, *extra,
            cwd=ROOT, stdout=asyncio.subprocess.PIPE)
        stdout, _ = await proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"load generator failed ({proc.returncode})")
        result: dict[str, Any] = json.loads(stdout.decode().strip().splitlines()[-1])
        return result

    async def wait_outbox_drained(self, svc: str, timeout: float = 120) -> None:
        conn = await asyncpg.connect(self.db_urls[svc][1])
        try:
            deadline = time.monotonic() + timeout
            while True:
                left = await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
                if left == 0:
                    return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{svc} outbox still holds {left} unsent rows")
                await asyncio.sleep(0.5)
        finally:
            await conn.close()

    async def wait_quiet(self, before: str, timeout: float = 120) -> bool:
        """Until every bench consumer group caught up, every outbox is empty and no
        delivery is pending: the next measurement must not pay for the last one's backlog."""
        groups = {self.groups["nonconformity"]: ["capa.events"]}
        if self.capa:
            groups[self.groups["capa"]] = ["nonconformity.events"]
        if self.notifications:
            groups[self.groups["notifications"]] = ["nonconformity.events", "capa.events"]
        deadline = time.monotonic() + timeout
        last_report = 0.0
        while True:
            backlog = {f"{g.rsplit('-', 1)[1]} lag": n
                       for g, n in (await group_lag(KAFKA, groups)).items()}
            for svc, proc in (("nonconformity", self.nc), ("capa", self.capa),
                              ("notifications", self.notifications)):
                if proc is None:
                    continue
                conn = await asyncpg.connect(self.db_urls[svc][1])
                try:
                    backlog[f"{svc} outbox"] = await conn.fetchval(
                        "SELECT count(*) FROM outbox WHERE sent_at IS NULL")
                    if svc == "notifications":
                        backlog["pending deliveries"] = await conn.fetchval(
                            "SELECT count(*) FROM deliveries WHERE status = 'pending'")
                finally:
                    await conn.close()
            busy = {k: v for k, v in backlog.items() if v}
            if not busy:
                return True
            if time.monotonic() > deadline:
                self.say(f"{before}: still busy after {timeout:g} s ({busy}); measuring anyway")
                return False
            if time.monotonic() - last_report > 5:
                self.say(f"{before}: waiting for the previous backlog to clear {busy}")
                last_report = time.monotonic()
            await asyncio.sleep(1)

    async def receiver_events(self, after: int = 0) -> tuple[int, list[dict[str, Any]]]:
        assert self.receiver
        async with httpx.AsyncClient(trust_env=False, timeout=30) as client:
            body = (await client.get(f"{self.receiver.url}/events",
                                     params={"after": after})).json()
        return body["count"], body["events"]

    # --- row 1 ----------------------------------------------------------------

    async def row1(self) -> Row:
        c = self.config
        row = Row("1", "POST /v1/nonconformities req/s", "≥ 0.5")
        assert self.bare and self.nc
        runs: dict[str, list[dict[str, Any]]] = {"bare": [], "service": []}
        for i in range(2):
            warmup = c.nc_warmup if i == 0 else 1.0
            for name, proc, token in (("bare", self.bare, None),
                                      ("service", self.nc, self.keys["reporter"])):
                self.say(f"row 1 round {i + 1}/2: {name}, {c.nc_concurrency} connections, "
                         f"{warmup:g} s warm-up + {c.nc_round:g} s")
                extra = ["--concurrency", str(c.nc_concurrency), "--warmup", str(warmup),
                         "--duration", str(c.nc_round)] + (["--token", token] if token else [])
                runs[name].append(await self.loadgen(
                    f"row1 {name}", f"{proc.url}/v1/nonconformities", *extra))
                if name == "service":
                    await self.wait_outbox_drained("nonconformity")
        rps = {k: sum(r["requests_ok"] for r in v) / sum(r["duration_s"] for r in v)
               for k, v in runs.items()}
        errors = {k: sum(n for s, n in r["statuses"].items() if not s.startswith("2"))
                  for k, v in runs.items() for r in v}
        self.row1_service_rps = rps["service"]
        row.value, row.baseline = f"{rps['service']:.0f} req/s", f"{rps['bare']:.0f} req/s"
        row.ratio = rps["service"] / rps["bare"]
        row.ok = row.ratio >= 0.5
        row.note = (f"p50 {runs['service'][-1]['latency_p50_ms']} ms vs "
                    f"{runs['bare'][-1]['latency_p50_ms']} ms")
        if any(errors.values()):
            row.note += f"; non-2xx: {errors}"
        row.details = {"runs": runs, "rps": rps}
        return row

    # --- row 2 ----------------------------------------------------------------

    async def row2(self) -> Row:
        c = self.config
        row = Row("2", "alerts/s in 100-alert Alertmanager payloads", "≥ 3")
        assert self.nc
        self.say(f"row 2: Alertmanager payloads of 100 new alerts, {c.alert_concurrency} "
                 f"concurrent, {c.alert_warmup:g} s warm-up + {c.alert_duration:g} s")
        result = await self.loadgen(
            "row2 alertmanager", f"{self.nc.url}/v1/intake/alertmanager", "--kind", "alerts",
            "--token", self.keys["alertmanager"], "--concurrency", str(c.alert_concurrency),
            "--warmup", str(c.alert_warmup), "--duration", str(c.alert_duration))
        self.say("row 2: waiting for the outbox relay to publish the backlog")
        await self.wait_outbox_drained("nonconformity", timeout=120)
        alerts = result["rps"] * 100
        base = self.row1_service_rps
        row.value = f"{alerts:.0f} alerts/s"
        row.details = {"run": result}
        if base:
            row.baseline = f"{base:.0f} NC/s"
            row.ratio = alerts / base
            row.ok = row.ratio >= 3
        row.note = f"payload p50 {result['latency_p50_ms']} ms"
        return row

    # --- row 3 ----------------------------------------------------------------

    async def row3(self) -> Row:
        row = Row("3", "outbox relay events/s to Kafka", "≥ 0.7")
        self.say(f"row 3: OutboxRelay vs raw aiokafka producer, 2 x {self.config.relay_records}"
                 " records each")
        topics = [f"bench.{self.tag}.relay", f"bench.{self.tag}.raw"]
        self.topics += topics
        result = await measure_relay(
            kafka=KAFKA, scratch_url=self.db_urls["scratch"][0],
            scratch_dsn=self.db_urls["scratch"][1], source_dsn=self.db_urls["nonconformity"][1],
            records=self.config.relay_records, relay_topic=topics[0], raw_topic=topics[1],
            log_dir=self.processes.log_dir, say=self.say)
        row.value = f"{result['relay_eps']:.0f} ev/s"
        row.baseline = f"{result['raw_eps']:.0f} ev/s"
        row.ratio = result["relay_eps"] / result["raw_eps"]
        row.ok = row.ratio >= 0.7
        row.note = f"batch {result['batch_size']}, {result['value_bytes']} B/event"
        row.details = result
        return row

    # --- row 4 ----------------------------------------------------------------

    async def start_downstream(self) -> None:
        # Migrated only now: a CAPA or notifications service that is broken in the
        # working tree makes rows 4-5 n/a, not the whole run.
        self.say("migrating and starting the CAPA and notifications services")
        await asyncio.gather(*(asyncio.to_thread(migrate, svc, self.db_urls[svc][0],
                                                 self.processes.log_dir)
                               for svc in ("capa", "notifications")))
        self.capa, self.notifications = await asyncio.gather(
            self.start_service("capa", ["nonconformity.events"]),
            self.start_service("notifications", ["nonconformity.events", "capa.events"]))

    async def subscribe(self, client: httpx.AsyncClient, target: str,
                        filter_: dict[str, Any]) -> None:
        assert self.notifications
        r = await client.post(f"{self.notifications.url}/v1/subscriptions",
                              headers={"authorization": f"Bearer {self.keys['manager']}"},
                              json={"channel": "webhook", "target": target, "filter": filter_})
        if r.status_code != 201:
            raise RuntimeError(f"subscription refused: {r.status_code} {r.text[:300]}")

    async def post_ncs(self, client: httpx.AsyncClient, *, rate: float, count: int,
                       severity: str, tag: str,
                       targets: list[Proc] | None = None) -> list[dict[str, Any]]:
        """Open loop: one POST every 1/rate s, whatever the answers take (round robin
        over ``targets``, by default the one nonconformity service)."""
        assert self.nc
        urls = [f"{p.url}/v1/nonconformities" for p in targets or [self.nc]]
        loop = asyncio.get_running_loop()
        headers = {"authorization": f"Bearer {self.keys['reporter']}",
                   "content-type": "application/json"}
        results: list[dict[str, Any]] = []
        batch = uuid.uuid4().hex[:6]  # external_refs unique per call: no dedup hits

        async def one(n: int) -> None:
            url = urls[n % len(urls)]
            body = nc_body(f"{self.tag}-{batch}", n, severity=severity, tag=tag)
            t0 = time.time()
            status: int | str = "not sent"
            nc_id = None
            attempts = 0
            # As a real client would: a connection the server closed under the request
            # (keep-alive race under overload) is retried; the body's external_ref makes
            # the retry answer with the NC the first try may already have created.
            while attempts < 3:
                attempts += 1
                try:
                    r = await client.post(url, content=body, headers=headers)
                    status = r.status_code
                    nc_id = r.json().get("id") if r.status_code < 300 else None
                    break
                except httpx.TransportError as exc:
                    status = type(exc).__name__
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                    break
            results.append({"t0": t0, "t_accepted": time.time(), "status": status,
                            "id": nc_id, "retries": attempts - 1})

        start = loop.time()
        tasks = []
        for n in range(count):
            delay = start + n / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(n)))
        await asyncio.gather(*tasks)
        return results

    async def wait_hooks(self, ids: set[str], after: int, timeout: float,
                         progress: bool = False) -> dict[str, float]:
        """Arrival time of the first capa.opened webhook per NC id, until all came."""
        got: dict[str, float] = {}
        cursor = after
        deadline = time.monotonic() + timeout
        last_report = time.monotonic()
        while time.monotonic() < deadline:
            _, events = await self.receiver_events(cursor)
            cursor += len(events)
            for e in events:
                nc = e.get("nonconformity_id")
                if nc in ids and str(e.get("type", "")).startswith("capaflow.capa.opened"):
                    got.setdefault(nc, e["t"])
            if len(got) >= len(ids):
                break
            if progress and time.monotonic() - last_report > 5:
                self.say(f"row 4: {len(got)}/{len(ids)} webhooks received")
                last_report = time.monotonic()
            await asyncio.sleep(0.5)
        return got

    async def e2e(self, client: httpx.AsyncClient, observer: CapaOpenedObserver, *,
                  rate: float, duration: float, drain: float, label: str,
                  replicas: dict[str, list[Proc]] | None = None) -> dict[str, Any]:
        """Critical NCs at a steady rate; latency from sending each POST to its webhook.
        With ``replicas``, the POSTs alternate over the nonconformity replicas and CPU
        is summed over each service's replicas."""
        if replicas is None:
            replicas = {svc: [p] for svc, p in (("nonconformity", self.nc), ("capa", self.capa),
                                                ("notifications", self.notifications)) if p}
        procs = {f"{svc}-{i}" if i else svc: p
                 for svc, ps in replicas.items() for i, p in enumerate(ps)}
        cpu0 = {k: cpu_seconds(p.pid) for k, p in procs.items()}
        total = int(rate * duration)
        self.say(f"row 4: {total} critical NCs at {rate:g}/s ({duration:g} s), then wait for "
                 "every webhook")
        count0, _ = await self.receiver_events(10**9)
        profiler = Profiler(self.processes.log_dir, label)
        profiler.start({k: p.pid for k, p in procs.items() if p})
        t_start = time.time()
        sent = await self.post_ncs(client, rate=rate, count=total, severity="critical",
                                   tag=label, targets=replicas["nonconformity"])
        accepted = {r["id"]: r for r in sent if r["id"]}
        self.say(f"row 4: {len(accepted)}/{total} accepted; waiting up to {drain:g} s for the "
                 "webhooks")
        hooks = await self.wait_hooks(set(accepted), count0, drain, progress=True)
        t_end = max(hooks.values(), default=time.time())
        profiles = profiler.stop()
        used = {k: cpu_seconds(p.pid) - c0  # type: ignore[operator]
                for k, p in procs.items() if (c0 := cpu0[k]) is not None}
        cpu = {svc: round(sum(v for k, v in used.items() if k.split("-")[0] == svc), 2)
               for svc in replicas}
        e2e = [hooks[i] - accepted[i]["t0"] for i in accepted if i in hooks]
        to_capa = [observer.opened[i] - accepted[i]["t0"] for i in accepted
                   if i in observer.opened]
        post = [r["t_accepted"] - r["t0"] for r in accepted.values()]
        missing = len(accepted) - len(e2e)
        p99 = _ms(percentile(e2e, 99))
        if missing > len(accepted) * 0.01 or not accepted:
            p99 = None  # more than 1 % never arrived: the 99th percentile is unknown
        return {
            "rate": rate, "sent": total, "accepted": len(accepted), "webhooks": len(e2e),
            "missing": missing, "e2e_p50_ms": _ms(percentile(e2e, 50)), "e2e_p99_ms": p99,
            "e2e_max_ms": _ms(max(e2e, default=None)),
            "capa_opened_p50_ms": _ms(percentile(to_capa, 50)),
            "capa_opened_p99_ms": _ms(percentile(to_capa, 99)),
            "post_p50_ms": _ms(percentile(post, 50)), "post_p99_ms": _ms(percentile(post, 99)),
            "statuses": _count(r["status"] for r in sent),
            "retried": sum(1 for r in sent if r.get("retries")),
            "delivered_per_s": round(len(e2e) / max(t_end - t_start, 1e-3), 1),
            "cpu_s": cpu,
            "cpu_ms_per_nc": {k: round(v * 1000 / max(len(e2e), 1), 1) for k, v in cpu.items()},
            "profiles": profiles,
        }

    def e2e_row(self, number: str, result: dict[str, Any], floor: dict[str, Any],
                target: bool) -> Row:
        row = Row(number, f"end-to-end p50/p99 at {result['rate']:g} NC/s (POST → webhook)",
                  "p99 ≤ 3x floor" if target else "(info)")
        row.value = f"{_fmt_ms(result['e2e_p50_ms'])} / {_fmt_ms(result['e2e_p99_ms'])}"
        row.baseline = f"{_fmt_ms(floor['p50_ms'])} / {_fmt_ms(floor['p99_ms'])}"
        if result["e2e_p99_ms"] is not None:
            row.ratio = result["e2e_p99_ms"] / floor["p99_ms"]
            row.ok = row.ratio <= 3 if target else None
        elif target:
            row.ok = False
        row.note = (f"CAPA opened p50/p99 {_fmt_ms(result['capa_opened_p50_ms'])}/"
                    f"{_fmt_ms(result['capa_opened_p99_ms'])}, POST p99 "
                    f"{_fmt_ms(result['post_p99_ms'])}, {result['delivered_per_s']:g} NC/s "
                    f"through; CPU ms per NC {result['cpu_ms_per_nc']}")
        if result["missing"]:
            row.note += f"; {result['missing']}/{result['accepted']} webhooks missing"
        if result["retried"]:
            row.note += (f"; {result['retried']} POSTs retried after the server closed the "
                         "connection (the retry found or created the NC)")
        failed = result["sent"] - result["accepted"]
        if failed:
            row.note += (f"; {failed} POSTs failed in the client "
                         f"({ {k: v for k, v in result['statuses'].items() if k != '201'} })")
        row.details = result | {"floor": floor}
        return row

    async def row4(self) -> list[Row]:
        c = self.config
        try:
            await self.start_downstream()
        except Exception as exc:
            row = Row("4", f"end-to-end p50/p99 at {c.e2e_rate:g} NC/s", "p99 ≤ 3x floor")
            row.note = f"n/a: a downstream service did not start ({exc})"[:400]
            return [row]
        assert self.receiver and self.bare
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200,
                              keepalive_expiry=3.0)  # below uvicorn's 5 s idle close
        async with httpx.AsyncClient(limits=limits, timeout=120, trust_env=False) as client:
            await self.subscribe(client, f"{self.receiver.url}/hook/e2e",
                                 {"event_types": ["capaflow.capa.opened*"]})
            observer = CapaOpenedObserver(KAFKA)
            await observer.start()
            try:
                self.say("row 4: warm-up, 20 critical NCs at 10/s, until their webhooks arrive")
                count0, _ = await self.receiver_events(10**9)
                warm = await self.post_ncs(client, rate=10, count=20, severity="critical",
                                           tag="e2e-warm")
                warm_ids = {r["id"] for r in warm if r["id"]}
                got = await self.wait_hooks(warm_ids, count0, timeout=90)
                if len(got) < len(warm_ids) or not warm_ids:
                    capa_seen = len(warm_ids & set(observer.opened))
                    row = Row("4", f"end-to-end p50/p99 at {c.e2e_rate:g} NC/s",
                              "p99 ≤ 3x floor")
                    row.note = (f"n/a: only {len(got)}/{len(warm_ids)} warm-up webhooks arrived"
                                f" within 90 s ({capa_seen} CAPAs opened); see the logs")
                    return [row]

                self.say(f"row 4: the floor, each part measured raw ({c.floor_samples} samples "
                         "at 100/s)")
                topic = f"bench.{self.tag}.floor"
                self.topics.append(topic)
                parts = await floor_probes.measure(
                    kafka=KAFKA, topic=topic, db_dsn=self.db_urls["scratch"][1],
                    bare_url=f"{self.bare.url}/v1/nonconformities",
                    hook_url=f"{self.receiver.url}/hook/floor", samples=c.floor_samples,
                    rate=100.0)
                floor = parts["floor"] | {"parts": parts["parts"], "weights": parts["weights"]}
                await self.wait_quiet("row 4b")
                low = await self.e2e(client, observer, rate=c.e2e_low_rate,
                                     duration=c.e2e_low_duration, drain=60, label="e2e-low")
                await self.wait_quiet("row 4")
                full = await self.e2e(client, observer, rate=c.e2e_rate,
                                      duration=c.e2e_duration, drain=c.e2e_drain_timeout,
                                      label="e2e")
            finally:
                await observer.stop()
        self.row4_result = full
        return [self.e2e_row("4", full, floor, target=True),
                self.e2e_row("4b", low, floor, target=False), *cpu_rows("4c", full)]

    # --- row 7 ----------------------------------------------------------------

    async def row7(self) -> list[Row]:
        """Row 4's load again with a second replica of each service (same databases
        and consumer groups): how NC/s through and CPU per NC change."""
        c = self.config
        row = Row("7", f"NC/s through at {c.e2e_rate:g} NC/s, 2 replicas each / 1", "(info)")
        one = self.row4_result
        if not (one and self.nc and self.capa and self.notifications):
            row.note = "n/a: row 4 did not run"
            return [row]
        self.say("row 7: starting a second replica of each service")
        # Same consumer groups (no reset to the end: the groups exist), so Kafka
        # shares each topic's partitions between the two replicas.
        second = {svc: self.processes.uvicorn(f"{svc}-2", f"services.{svc}.app:create_app",
                                              env=self.service_env(svc))
                  for svc in ("nonconformity", "capa", "notifications")}
        await asyncio.gather(*(asyncio.to_thread(wait_http, p, "/readyz", 120)
                               for p in second.values()))
        replicas = {"nonconformity": [self.nc, second["nonconformity"]],
                    "capa": [self.capa, second["capa"]],
                    "notifications": [self.notifications, second["notifications"]]}
        await self.wait_quiet("row 7")
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200,
                              keepalive_expiry=3.0)
        async with httpx.AsyncClient(limits=limits, timeout=120, trust_env=False) as client:
            observer = CapaOpenedObserver(KAFKA)
            await observer.start()
            try:
                two = await self.e2e(client, observer, rate=c.e2e_rate, duration=c.e2e_duration,
                                     drain=c.e2e_drain_timeout, label="e2e-replicas",
                                     replicas=replicas)
            finally:
                await observer.stop()
        for proc in second.values():
            proc.stop()
        row.value = f"{two['delivered_per_s']:g} NC/s"
        row.baseline = f"{one['delivered_per_s']:g} NC/s"
        row.ratio = two["delivered_per_s"] / max(one["delivered_per_s"], 1e-9)
        row.note = (f"p50/p99 {_fmt_ms(two['e2e_p50_ms'])} / {_fmt_ms(two['e2e_p99_ms'])}; "
                    f"CPU ms per NC (both replicas) {two['cpu_ms_per_nc']}, one replica each "
                    f"{one['cpu_ms_per_nc']}")
        if two["missing"]:
            row.note += f"; {two['missing']}/{two['accepted']} webhooks missing"
        row.details = two
        return [row, *cpu_rows("7c", two)]

    # --- row 5 ----------------------------------------------------------------

    async def row5(self) -> Row:
        c = self.config
        row = Row("5", f"webhook deliveries/s to {c.subscriptions} subscriptions", "≥ 0.5")
        if not self.notifications:
            row.note = "n/a: the notifications service is not running"
            return row
        assert self.receiver
        tag = f"fanout-{self.tag}"
        self.say(f"row 5: creating {c.subscriptions} webhook subscriptions (filter: tag {tag})")
        receiver = self.receiver.url
        async with httpx.AsyncClient(timeout=60, trust_env=False) as client:
            sem = asyncio.Semaphore(8)

            async def sub(i: int) -> None:
                async with sem:
                    await self.subscribe(client, f"{receiver}/hook/s{i}",
                                         {"tags": [tag]})

            await asyncio.gather(*(sub(i) for i in range(c.subscriptions)))
            service_runs, raw_runs = [], []
            for i in range(c.fanout_rounds):
                await self.wait_quiet(f"row 5 round {i + 1}")
                self.say(f"row 5 round {i + 1}/{c.fanout_rounds}: one event → "
                         f"{c.subscriptions} deliveries by the service")
                count0, _ = await self.receiver_events(10**9)
                t_post = time.time()
                sent = await self.post_ncs(client, rate=1000, count=1, severity="minor",
                                           tag=tag)
                nc_id = sent[0]["id"]
                if not nc_id:
                    raise RuntimeError(f"the fan-out NC was refused: {sent[0]['status']}")
                times = await self._collect(count0, c.subscriptions, 60,
                                            _is_report_of(nc_id))
                if len(times) < c.subscriptions:
                    raise RuntimeError(f"only {len(times)}/{c.subscriptions} deliveries "
                                       "arrived within 60 s")
                service_runs.append(_span(times, t_post))
                index = count0 + 0  # the body of the first delivery of this round
                body = (await client.get(f"{self.receiver.url}/raw",
                                         params={"index": index})).content
                self.say(f"row 5 round {i + 1}/{c.fanout_rounds}: the same body x "
                         f"{c.subscriptions} by a raw httpx client "
                         f"({c.delivery_concurrency} connections)")
                count1, _ = await self.receiver_events(10**9)
                t_raw = time.time()
                await _raw_fanout(self.receiver.url, body, c.subscriptions,
                                  c.delivery_concurrency)
                times = await self._collect(count1, c.subscriptions, 60,
                                            lambda e: e["path"].startswith("/hook/r"))
                raw_runs.append(_span(times, t_raw))
        svc = sum(c.subscriptions for _ in service_runs) / sum(r["span_s"] for r in service_runs)
        raw = sum(c.subscriptions for _ in raw_runs) / sum(r["span_s"] for r in raw_runs)
        row.value, row.baseline = f"{svc:.0f} /s", f"{raw:.0f} /s"
        row.ratio = svc / raw
        row.ok = row.ratio >= 0.5
        first = sum(r["first_after_s"] for r in service_runs) / len(service_runs)
        row.note = f"first delivery {first * 1000:.0f} ms after the POST (mean)"
        row.details = {"service": service_runs, "raw": raw_runs}
        return row

    async def _collect(self, after: int, want: int, timeout: float,
                       match: Callable[[dict[str, Any]], bool]) -> list[float]:
        times: list[float] = []
        cursor = after
        deadline = time.monotonic() + timeout
        while len(times) < want and time.monotonic() < deadline:
            _, events = await self.receiver_events(cursor)
            cursor += len(events)
            times += [e["t"] for e in events if match(e)]
            if len(times) < want:
                await asyncio.sleep(0.3)
        return times

    # --- row 6 ----------------------------------------------------------------

    def row6(self) -> list[Row]:
        rows = []
        bare = vm_hwm_kib(self.bare.pid) if self.bare and self.bare.alive() else None
        for n, proc in ((1, self.nc), (2, self.capa), (3, self.notifications)):
            name = ("nonconformity", "capa", "notifications")[n - 1]
            row = Row("6", f"peak RSS (VmHWM), {name} service", "≤ 3x")
            peak = vm_hwm_kib(proc.pid) if proc and proc.alive() else None
            if peak and bare:
                row.value, row.baseline = f"{peak / 1024:.0f} MiB", f"{bare / 1024:.0f} MiB"
                row.ratio = peak / bare
                row.ok = row.ratio <= 3
            else:
                row.note = "n/a: process not running"
            row.details = {"vmhwm_kib": peak, "bare_vmhwm_kib": bare}
            rows.append(row)
        return rows

    # --- the run --------------------------------------------------------------

    async def guarded(self, number: str, measure: str, target: str,
                      step: Callable[[], Awaitable[Row | list[Row]]]) -> None:
        try:
            result = await step()
            self.rows += result if isinstance(result, list) else [result]
        except Exception as exc:
            self.say(f"row {number} failed: {type(exc).__name__}: {exc}")
            traceback.print_exc()
            self.rows.append(Row(number, measure, target,
                                 note=f"n/a: {type(exc).__name__}: {exc}"[:300]))

    async def run(self) -> dict[str, Any]:
        machine = machine_info()
        self.say(f"machine: {machine['cpus']} CPUs, {machine['cpu_model']}, "
                 f"{machine['ram_gib']} GiB RAM, load average {machine['loadavg_start']}")
        rss_rows: list[Row] = []
        try:
            try:
                await self.setup()
            except Exception as exc:
                self.say(f"setup failed: {type(exc).__name__}: {exc}")
                self.rows.append(Row("-", "setup (databases, nonconformity service)", "",
                                     note=f"n/a: {type(exc).__name__}: {exc}"[:400]))
                raise _SetupFailed from exc
            steps: list[tuple[str, str, str, Callable[[], Awaitable[Row | list[Row]]]]] = [
                ("1", "POST /v1/nonconformities req/s", "≥ 0.5", self.row1),
                ("2", "alerts/s in 100-alert Alertmanager payloads", "≥ 3", self.row2),
                ("3", "outbox relay events/s to Kafka", "≥ 0.7", self.row3),
                ("4", "end-to-end p50/p99 at 100 NC/s", "p99 ≤ 3x floor", self.row4),
                ("5", "webhook deliveries/s to 500 subscriptions", "≥ 0.5", self.row5),
            ]
            for number, measure, target, step in steps:
                if self.only is None or number in self.only:
                    await self.guarded(number, measure, target, step)
            # Peaks of the one-replica runs, before row 7 adds replicas.
            rss_rows = self.row6()
            if self.only is None or "7" in self.only:
                await self.guarded("7", "NC/s through with 2 replicas each", "(info)",
                                   self.row7)
        except _SetupFailed:
            pass
        finally:
            self.say("stopping the bench processes, dropping the bench databases and topics")
            await self.teardown()
        machine["loadavg_end"] = os.getloadavg()
        rows = self.rows + rss_rows
        return {"run": self.run_id, "machine": machine, "config": self.config.__dict__,
                "wall_s": round(time.monotonic() - self.started, 1),
                "rows": [r.__dict__ for r in rows]}


class _SetupFailed(Exception):
    pass


# Row 4's target, as the issue sets it: service CPU per NC carried end to end.
CPU_MS_PER_NC_TARGET = 12.0


def cpu_rows(number: str, result: dict[str, Any]) -> list[Row]:
    """CPU ms per NC of each service, and their total against the target."""
    per = result.get("cpu_ms_per_nc") or {}
    rows = [Row(number, f"service CPU ms per NC at {result['rate']:g} NC/s, {svc}", "(share)",
                value=f"{ms:g} ms") for svc, ms in per.items()]
    total = round(sum(per.values()), 1)
    rows.append(Row(number, f"service CPU ms per NC at {result['rate']:g} NC/s, all services",
                    f"≤ {CPU_MS_PER_NC_TARGET:g} ms", value=f"{total:g} ms",
                    baseline=f"{CPU_MS_PER_NC_TARGET:g} ms",
                    ratio=total / CPU_MS_PER_NC_TARGET, ok=total <= CPU_MS_PER_NC_TARGET))
    return rows


# --- raw fan-out (row 5 baseline) ------------------------------------------------

async def _raw_fanout(receiver: str, body: bytes, count: int, concurrency: int) -> None:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency,
                          keepalive_expiry=3.0)
    queue = list(range(count))
    async with httpx.AsyncClient(limits=limits, timeout=30, trust_env=False) as client:
        async def worker() -> None:
            while queue:
                i = queue.pop()
                await client.post(f"{receiver}/hook/r{i}", content=body,
                                  headers={"content-type": "application/json",
                                           "webhook-id": str(uuid.uuid4())})

        await asyncio.gather(*(worker() for _ in range(concurrency)))


def _is_report_of(nc_id: str) -> Callable[[dict[str, Any]], bool]:
    def match(e: dict[str, Any]) -> bool:
        return bool(e.get("nonconformity_id") == nc_id
                    and str(e.get("type", "")).endswith("reported.v1"))
    return match


def _span(times: list[float], t_start: float) -> dict[str, float]:
    times = sorted(times)
    return {"span_s": max(times[-1] - times[0], 1e-3), "first_after_s": times[0] - t_start,
            "last_after_s": times[-1] - t_start, "deliveries": len(times)}


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def _fmt_ms(ms: float | None) -> str:
    if ms is None:
        return "n/a"
    return f"{ms / 1000:.2f} s" if ms >= 1000 else f"{ms:.0f} ms"


def _count(values: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[str(v)] = out.get(str(v), 0) + 1
    return out


def machine_info() -> dict[str, Any]:
    model = "unknown"
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next((ln.split(":", 1)[1].strip() for ln in lscpu.splitlines()
                      if ln.startswith("Model name")), model)
    except OSError:
        pass
    mem_kib = next((int(ln.split()[1]) for ln in Path("/proc/meminfo").read_text().splitlines()
                    if ln.startswith("MemTotal")), 0)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True, check=False).stdout.strip()
    dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                cwd=ROOT, capture_output=True, text=True,
                                check=False).stdout.strip())
    return {"cpus": os.cpu_count(), "cpu_model": model, "ram_gib": round(mem_kib / 2**20, 1),
            "python": platform.python_version(), "kernel": platform.release(),
            "git": commit + ("-dirty" if dirty else ""), "date": datetime.now(UTC).isoformat(),
            "loadavg_start": os.getloadavg()}


def table(result: dict[str, Any]) -> str:
    header = ("#", "measure", "CAPAflow", "baseline", "ratio", "target", "")
    lines = [header]
    for r in result["rows"]:
        ratio = "n/a" if r["ratio"] is None else f"{r['ratio']:.2f}"
        mark = {True: "ok", False: "MISS", None: "n/a"}[r["ok"]]
        lines.append((r["number"], r["measure"], r["value"], r["baseline"], ratio,
                      r["target"], mark))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for n, line in enumerate(lines):
        out.append("| " + " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(line))
                   + " |")
        if n == 0:
            out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    notes = [f"  {r['number']}: {r['note']}" for r in result["rows"] if r["note"]]
    m = result["machine"]
    return "\n".join([*out, "", "notes:", *notes, "",
                      f"machine: {m['cpus']} CPUs, {m['cpu_model']}, {m['ram_gib']} GiB RAM; "
                      f"load average {m['loadavg_start'][0]:.2f} at start, "
                      f"{m['loadavg_end'][0]:.2f} at end; git {m['git']}; {m['date'][:16]}Z; "
                      f"{result['wall_s']:.0f} s"])


def main() -> None:
    parser = argparse.ArgumentParser(description="CAPAflow benchmarks (issue 7)")
    parser.add_argument("--quick", action="store_true", help="short rounds, for trying it out")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench")
    parser.add_argument("--rows", help="comma-separated rows to run, e.g. 4 (default: all)")
    args = parser.parse_args()
    only = set(args.rows.split(",")) if args.rows else None
    bench = Bench(Config.quick() if args.quick else Config(), args.out, only)
    result = asyncio.run(bench.run())
    args.out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=2, default=str)
    (args.out / f"{result['run']}.json").write_text(text)
    (args.out / "latest.json").write_text(text)
    print()
    print(table(result))
    print(f"\nJSON: {(args.out / 'latest.json').relative_to(ROOT)}", flush=True)


if __name__ == "__main__":
    main()
