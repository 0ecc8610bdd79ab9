"""A careful client posting many NCs: the same Idempotency-Key on every retry,
round-robin over the intake replicas given (moving on to the next when one
does not answer), keeping every answer it saw."""

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx


@dataclass
class Load:
    urls: list[str]
    key: str
    total: int
    workers: int = 8
    per_worker_rate: float = 3.5  # requests/s per client thread
    accepted: dict[str, str] = field(default_factory=dict)  # external_ref -> NC id
    critical: set[str] = field(default_factory=set)
    statuses: Counter[int] = field(default_factory=Counter)
    unavailable_without_retry_after: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Requests from this number on wait for ``released``: a test keeps part of the
    # load for a fault that comes late, however slowly the machine got there.
    hold_from: int | None = None
    released: threading.Event = field(default_factory=threading.Event)

    def post(self, client: httpx.Client, n: int, run: str) -> None:
        ref = f"{run}-{n}"
        critical = n % 10 == 0
        body = {"title": f"Load report {n}", "severity": "critical" if critical else "minor",
                "external_ref": ref, "source": "support"}
        headers = {"Authorization": f"Bearer {self.key}", "Idempotency-Key": ref}
        deadline = time.monotonic() + 240
        attempt = n
        while time.monotonic() < deadline:
            url = self.urls[attempt % len(self.urls)]
            attempt += 1
            try:
                r = client.post(url, json=body, headers=headers, timeout=15)
            except httpx.HTTPError:
                time.sleep(0.5)  # down or restarting: the next try may go to another replica
                continue
            with self.lock:
                self.statuses[r.status_code] += 1
                if r.status_code == 503 and "retry-after" not in r.headers:
                    self.unavailable_without_retry_after += 1
            if r.status_code in (200, 201):
                with self.lock:
                    self.accepted[ref] = r.json()["id"]
                    if critical:
                        self.critical.add(r.json()["id"])
                return
            # 503 during an outage; 409 while the key is still claimed by a killed process.
            time.sleep(min(2.0, float(r.headers.get("retry-after", "0.5"))))

    def run(self, run: str) -> None:
        def worker(start: int) -> None:
            with httpx.Client() as client:
                for n in range(start, self.total, self.workers):
                    if self.hold_from is not None and n >= self.hold_from:
                        self.released.wait(timeout=300)  # bounded: a failed test ends
                    began = time.monotonic()
                    self.post(client, n, run)
                    time.sleep(max(0.0, 1 / self.per_worker_rate - (time.monotonic() - began)))

        with ThreadPoolExecutor(self.workers) as pool:
            list(pool.map(worker, range(self.workers)))
