"""Row 3: shared.relay.OutboxRelay draining pre-written outbox rows on PostgreSQL
vs a raw aiokafka producer sending the same records."""

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer

from bench.procs import migrate
from shared.bus.base import OutgoingRecord
from shared.bus.kafka import KafkaBus
from shared.db import create_engine, session_factory
from shared.relay import OutboxRelay
from shared.settings import ServiceSettings

Record = tuple[str, str, bytes, str]  # event_type, key, value, headers (JSON)


async def _sample_records(source_dsn: str, count: int) -> list[Record]:
    """Real events: the newest outbox rows the nonconformity service wrote in rows 1-2."""
    conn = await asyncpg.connect(source_dsn)
    try:
        rows = await conn.fetch("SELECT event_type, key, value, headers FROM outbox "
                                "ORDER BY id DESC LIMIT $1", count)
    finally:
        await conn.close()
    records = [(r["event_type"], r["key"], bytes(r["value"]), r["headers"]) for r in rows]
    if not records:  # rows 1-2 wrote nothing: a CloudEvent-sized stand-in
        value = json.dumps({"specversion": "1.0", "data": {"x": "y" * 900}}).encode()
        records = [("bench.synthetic", str(uuid.uuid4()), value, "[]")]
    return [records[i % len(records)] for i in range(count)]


async def _write_outbox(dsn: str, topic: str, records: list[Record]) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        now = datetime.now(UTC)
        await conn.copy_records_to_table(
            "outbox", columns=["event_id", "event_type", "topic", "key", "value", "headers",
                               "created_at"],
            records=[(str(uuid.uuid4()), t, topic, k, v, h, now) for t, k, v, h in records])
    finally:
        await conn.close()


async def measure_relay(*, kafka: str, scratch_url: str, scratch_dsn: str, source_dsn: str,
                        records: int, relay_topic: str, raw_topic: str, log_dir: Path,
                        say: Callable[[str], None], rounds: int = 2) -> dict[str, Any]:
    await asyncio.to_thread(migrate, "nonconformity", scratch_url, log_dir)
    sample = await _sample_records(source_dsn, records)
    batch_size = ServiceSettings().outbox_batch_size
    engine = create_engine(scratch_url)
    bus = KafkaBus(bootstrap_servers=kafka, client_id="capaflow-bench-relay")
    relay = OutboxRelay(service="bench-relay", sessions=session_factory(engine), bus=bus,
                        batch_size=batch_size)
    # The same producer settings as shared.bus.kafka: acks=all, idempotent, linger 5 ms.
    producer = AIOKafkaProducer(bootstrap_servers=kafka, client_id="capaflow-bench-raw",
                                acks="all", enable_idempotence=True, linger_ms=5)
    relay_times: list[float] = []
    raw_times: list[float] = []
    try:
        await producer.start()
        # Topic creation and the first metadata round trip happen before timing.
        await bus.publish([OutgoingRecord(topic=relay_topic, key="warm", value=b"{}")])
        await producer.send_and_wait(raw_topic, b"{}", key=b"warm")
        for i in range(rounds):
            await _write_outbox(scratch_dsn, relay_topic, sample)
            t0 = time.perf_counter()
            sent = 0
            while True:  # what OutboxRelay.run does while there is a backlog
                n = await relay.relay_once()
                await relay.measure_backlog()
                sent += n
                if n == 0:
                    break
            relay_times.append(time.perf_counter() - t0)
            if sent != records:
                raise RuntimeError(f"the relay sent {sent} of {records} rows")
            say(f"row 3 round {i + 1}/{rounds}: relay {records / relay_times[-1]:.0f} ev/s")

            headers = [[(k, v.encode()) for k, v in json.loads(h)] for _, _, _, h in sample]
            t0 = time.perf_counter()
            acks = [await producer.send(raw_topic, v, key=k.encode(), headers=hs)
                    for (_, k, v, _), hs in zip(sample, headers, strict=True)]
            await asyncio.gather(*acks)
            raw_times.append(time.perf_counter() - t0)
            say(f"row 3 round {i + 1}/{rounds}: raw producer {records / raw_times[-1]:.0f} ev/s")
    finally:
        await producer.stop()
        await bus.stop()
        await engine.dispose()
    return {"records_per_round": records, "rounds": rounds, "batch_size": batch_size,
            "value_bytes": round(sum(len(r[2]) for r in sample) / len(sample)),
            "relay_s": relay_times, "raw_s": raw_times,
            "relay_eps": records * rounds / sum(relay_times),
            "raw_eps": records * rounds / sum(raw_times)}
