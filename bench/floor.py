"""Row 4's floor: each part of the path measured raw, at the same 100/s.

floor = HTTP POST to the bare app (the report) + 3 PostgreSQL commits (the
NC, the CAPA, the delivery queue) + 2 Kafka produce→consume round trips
(nonconformity.events, capa.events) + HTTP POST to the receiver (the webhook).
p50 and p99 of the floor are the sums of the parts' p50s and p99s.
"""

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bench.loadgen import nc_body, percentile

WEBHOOK_BODY = json.dumps({
    "specversion": "1.0", "id": str(uuid.uuid4()), "source": "/capaflow/capa",
    "type": "capaflow.capa.opened.v1", "subject": str(uuid.uuid4()),
    "time": "2026-11-26T08:00:00Z", "datacontenttype": "application/json",
    "correlationid": str(uuid.uuid4()),
    "data": {"capa_id": str(uuid.uuid4()), "number": "CAPA-2026-00001",
             "title": "Checkout returns 500 for PayPal", "nonconformity_id": str(uuid.uuid4()),
             "severity": "critical", "opened_at": "2026-11-26T08:00:00Z", "kind": "corrective",
             "source": "support", "owner": None, "due_date": "2026-12-26", "risk_score": 15,
             "opened_by": "capa-service"},
}).encode()


async def _paced(samples: int, rate: float, probe: Callable[[int], Awaitable[float]]
                 ) -> list[float]:
    loop = asyncio.get_running_loop()
    start = loop.time()
    out = []
    for i in range(samples):
        delay = start + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        out.append(await probe(i))
    return out


def _stats(values: list[float]) -> dict[str, float]:
    p50, p99 = percentile(values, 50), percentile(values, 99)
    assert p50 is not None and p99 is not None
    return {"p50_ms": round(p50 * 1000, 2), "p99_ms": round(p99 * 1000, 2)}


async def _http(url: str, body_of: Callable[[int], bytes], samples: int,
                rate: float) -> dict[str, float]:
    async with httpx.AsyncClient(trust_env=False, timeout=30) as client:
        async def probe(i: int) -> float:
            t0 = time.perf_counter()
            r = await client.post(url, content=body_of(i),
                                  headers={"content-type": "application/json"})
            r.raise_for_status()
            return time.perf_counter() - t0

        for i in range(10):
            await probe(i)
        return _stats(await _paced(samples, rate, probe))


async def _db_commit(dsn: str, samples: int, rate: float) -> dict[str, float]:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("CREATE TABLE IF NOT EXISTS bench_floor "
                           "(id bigserial PRIMARY KEY, payload text NOT NULL)")
        payload = WEBHOOK_BODY.decode()

        async def probe(_i: int) -> float:
            t0 = time.perf_counter()
            async with conn.transaction():
                await conn.execute("INSERT INTO bench_floor (payload) VALUES ($1)", payload)
            return time.perf_counter() - t0

        return _stats(await _paced(samples, rate, probe))
    finally:
        await conn.close()


async def _read_from_the_end(producer: AIOKafkaProducer, consumer: AIOKafkaConsumer,
                             topic: str) -> None:
    """Create the topic and put the consumer at the end of every partition."""
    await producer.send_and_wait(topic, b"warm", key=b"warm")  # creates the topic
    for _ in range(50):
        parts = (await consumer._client.fetch_all_metadata()).partitions_for_topic(topic)
        if parts:
            break
        await asyncio.sleep(0.1)
    tps = [TopicPartition(topic, p) for p in sorted(parts or {0})]
    consumer.assign(tps)
    await consumer.seek_to_end(*tps)
    for tp in tps:
        await consumer.position(tp)


async def _kafka_round_trip(bootstrap: str, topic: str, samples: int,
                            rate: float) -> dict[str, float]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all",
                                enable_idempotence=True)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                isolation_level="read_committed")
    await producer.start()
    await consumer.start()
    try:
        await _read_from_the_end(producer, consumer, topic)
        arrived: dict[int, float] = {}
        waiters: dict[int, asyncio.Future[None]] = {}

        async def consume() -> None:
            while True:
                # The services' consumers fetch the same way (shared.bus.kafka).
                batches = await consumer.getmany(timeout_ms=500, max_records=100)
                now = time.perf_counter()
                for messages in batches.values():
                    for m in messages:
                        if m.value and m.value.isdigit():
                            i = int(m.value)
                            arrived[i] = now
                            if i in waiters and not waiters[i].done():
                                waiters[i].set_result(None)

        task = asyncio.create_task(consume())

        async def probe(i: int) -> float:
            waiters[i] = asyncio.get_running_loop().create_future()
            t0 = time.perf_counter()
            await producer.send(topic, str(i).encode(), key=str(uuid.uuid4()).encode())
            await asyncio.wait_for(waiters[i], timeout=30)
            return arrived[i] - t0

        for i in range(10):  # warm-up
            await probe(1_000_000 + i)
        result = _stats(await _paced(samples, rate, probe))
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return result
    finally:
        await consumer.stop()
        await producer.stop()


async def measure(*, kafka: str, topic: str, db_dsn: str, bare_url: str, hook_url: str,
                  samples: int, rate: float) -> dict[str, Any]:
    parts = {
        "http_report": await _http(bare_url, lambda i: nc_body("floor", i), samples, rate),
        "db_commit": await _db_commit(db_dsn, samples, rate),
        "kafka_round_trip": await _kafka_round_trip(kafka, topic, samples, rate),
        "http_webhook": await _http(hook_url, lambda _i: WEBHOOK_BODY, samples, rate),
    }
    weights = {"http_report": 1, "db_commit": 3, "kafka_round_trip": 2, "http_webhook": 1}
    floor = {q: round(sum(parts[k][q] * w for k, w in weights.items()), 2)
             for q in ("p50_ms", "p99_ms")}
    return {"parts": parts, "weights": weights, "floor": floor}
