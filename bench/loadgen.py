"""The load generator: an async httpx client, closed loop at a fixed concurrency.

Run as its own process so that it does not share a CPU with the orchestrator:

    python -m bench.loadgen --url http://127.0.0.1:8001/v1/nonconformities \
        --token KEY --kind nc --concurrency 32 --warmup 3 --duration 15

Each of ``concurrency`` workers sends one request, waits for the answer and
sends the next (keep-alive connections, one per worker). Only requests that
complete inside the measurement window (after the warm-up) count. Prints
one JSON object on stdout; progress goes to stderr.
"""

import argparse
import asyncio
import json
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def nc_body(run: str, n: int, *, severity: str = "minor", tag: str | None = None) -> bytes:
    """A support report as a ticketing tool sends it. external_ref and affected item
    are unique, so the report is neither a duplicate nor a recurrence (which would
    escalate it, or link it to an open CAPA instead of opening one)."""
    body: dict[str, Any] = {
        "title": f"Checkout returns 500 for PayPal (bench {n})",
        "description": "Customers cannot pay with PayPal since 07:40; HTTP 500 from the "
                       "payment gateway adapter.",
        "source": "support", "severity": severity, "category": "payments",
        "affected_item": f"web shop checkout {run}-{n}", "external_ref": f"BENCH-{run}-{n}",
        "reporter": "Ann (support)", "occurred_at": "2026-11-26T07:40:00Z",
        "tags": ["paypal", tag or "bench"],
        "links": [{"url": f"https://support.example/tickets/{n}"}],
    }
    return json.dumps(body).encode()


def alertmanager_body(run: str, n: int, *, alerts: int = 100) -> bytes:
    """Alertmanager's webhook (version 4) with ``alerts`` new firing alerts.

    Each alert names its own service (the NC's affected item), so none of them
    is a recurrence and nothing escalates: the same work per NC as row 1's reports.
    """
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    items = []
    for i in range(alerts):
        fp = f"{run}{n:07x}{i:03x}"
        items.append({
            "status": "firing",
            "labels": {"alertname": "HighErrorRate", "severity": "warning",
                       "service": f"checkout-{run}-{n}-{i}", "instance": f"10.0.{i % 7}.{i}:9100",
                       "job": "checkout"},
            "annotations": {"summary": f"5xx above 2 % on checkout-{i % 20}",
                            "description": "Error ratio 3.1 % over 5 minutes."},
            "startsAt": now, "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": f"http://prometheus.example/graph?g0.expr=errors{{i={i}}}",
            "fingerprint": fp,
        })
    payload = {"version": "4", "groupKey": f'{{}}:{{alertname="HighErrorRate",n="{n}"}}',
               "truncatedAlerts": 0, "status": "firing", "receiver": "capaflow",
               "groupLabels": {"alertname": "HighErrorRate"},
               "commonLabels": {"alertname": "HighErrorRate", "severity": "warning"},
               "commonAnnotations": {}, "externalURL": "http://alertmanager.example",
               "alerts": items}
    return json.dumps(payload).encode()


async def closed_loop(*, url: str, headers: dict[str, str], make_body: Callable[[int], bytes],
                      concurrency: int, warmup: float, duration: float,
                      progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency,
                          keepalive_expiry=3.0)
    statuses: Counter[str] = Counter()
    latencies: list[float] = []
    counter = 0
    loop = asyncio.get_running_loop()
    start = loop.time()
    window_start, window_end = start + warmup, start + warmup + duration
    ok_in_window = 0

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal counter, ok_in_window
        while loop.time() < window_end:
            counter += 1
            body = make_body(counter)
            t0 = loop.time()
            try:
                r = await client.post(url, content=body, headers=headers)
                status = str(r.status_code)
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            t1 = loop.time()
            if window_start <= t1 <= window_end:
                statuses[status] += 1
                if status.startswith("2"):
                    ok_in_window += 1
                    latencies.append(t1 - t0)

    async def report() -> None:
        while loop.time() < window_end:
            await asyncio.sleep(5)
            elapsed = loop.time() - start
            phase = "warm-up" if elapsed < warmup else "measuring"
            if progress:
                progress(f"{phase} {elapsed:4.0f} s, {ok_in_window} ok in window")

    async with httpx.AsyncClient(limits=limits, timeout=60, trust_env=False) as client:
        reporter = asyncio.create_task(report())
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        reporter.cancel()
    return {"requests_ok": ok_in_window, "duration_s": duration, "concurrency": concurrency,
            "rps": ok_in_window / duration, "statuses": dict(statuses),
            "latency_p50_ms": _ms(percentile(latencies, 50)),
            "latency_p99_ms": _ms(percentile(latencies, 99))}


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--token")
    parser.add_argument("--kind", choices=["nc", "alerts"], default="nc")
    parser.add_argument("--severity", default="minor")
    parser.add_argument("--alerts", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--duration", type=float, default=15)
    parser.add_argument("--label", default="load")
    args = parser.parse_args()
    run = uuid.uuid4().hex[:8]
    headers = {"content-type": "application/json"}
    if args.token:
        headers["authorization"] = f"Bearer {args.token}"
    if args.kind == "nc":
        def make_body(n: int) -> bytes:
            return nc_body(run, n, severity=args.severity)
    else:
        def make_body(n: int) -> bytes:
            return alertmanager_body(run, n, alerts=args.alerts)

    def progress(message: str) -> None:
        print(f"      [{args.label}] {message}", file=sys.stderr, flush=True)

    started = time.monotonic()
    result = asyncio.run(closed_loop(url=args.url, headers=headers, make_body=make_body,
                                     concurrency=args.concurrency, warmup=args.warmup,
                                     duration=args.duration, progress=progress))
    result["wall_s"] = round(time.monotonic() - started, 1)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
