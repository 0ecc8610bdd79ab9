"""Apache Kafka adapter (aiokafka): the production bus."""

import asyncio
import logging
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from shared.bus.base import OutgoingRecord, ReceivedRecord

log = logging.getLogger(__name__)


class KafkaBus:
    def __init__(self, *, bootstrap_servers: str, client_id: str,
                 request_timeout_ms: int = 15_000, namespace: str = "") -> None:
        self._bootstrap = bootstrap_servers
        self._client_id = client_id
        # Prefixed to every topic and consumer group, so several environments
        # (or test runs) can share one cluster without seeing each other.
        self._namespace = namespace
        self._request_timeout_ms = request_timeout_ms
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        # The producer is created lazily: a service must start (and report
        # not-ready) while the broker is down, and publish retries later.
        return None

    async def stop(self) -> None:
        await self._drop_producer()

    async def _ensure_producer(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=self._bootstrap,
                    client_id=self._client_id,
                    # Set explicitly: aiokafka defaults to acks=1 without idempotence,
                    # which can lose or duplicate acknowledged records on failover.
                    acks="all",
                    enable_idempotence=True,
                    linger_ms=5,
                    request_timeout_ms=self._request_timeout_ms,
                )
                try:
                    await producer.start()
                except BaseException:
                    await producer.stop()
                    raise
                self._producer = producer
            return self._producer

    async def _drop_producer(self) -> None:
        async with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    async def publish(self, records: Sequence[OutgoingRecord]) -> None:
        if not records:
            return
        producer = await self._ensure_producer()
        try:
            # send() queues in call order; the idempotent producer keeps that
            # order per partition even across internal retries.
            acks = [
                await producer.send(self._namespace + r.topic, r.value, key=r.key.encode(),
                                    headers=list(r.headers))
                for r in records
            ]
            await asyncio.gather(*acks)
        except Exception:
            # Start the next attempt on a fresh producer: after a broker outage
            # the old one can hold expired batches and a fenced producer id.
            await self._drop_producer()
            raise

    def subscribe(self, *, group: str, topics: Sequence[str]) -> "KafkaSubscription":
        return KafkaSubscription(
            bootstrap_servers=self._bootstrap, client_id=self._client_id,
            group=self._namespace + group, topics=list(topics), namespace=self._namespace,
        )

    async def ping(self) -> None:
        producer = await self._ensure_producer()
        try:
            await asyncio.wait_for(producer.client.fetch_all_metadata(), timeout=5)
        except Exception:
            await self._drop_producer()
            raise


class KafkaSubscription:
    def __init__(self, *, bootstrap_servers: str, client_id: str, group: str,
                 topics: list[str], namespace: str = "") -> None:
        self._namespace = namespace
        self._consumer = AIOKafkaConsumer(
            *(namespace + t for t in topics),
            bootstrap_servers=bootstrap_servers,
            client_id=f"{client_id}-{group}",
            group_id=group,
            # Offsets are committed by hand, only after the handler's database
            # transaction committed (see shared.inbox).
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
        )

    async def start(self) -> None:
        await self._consumer.start()

    async def stop(self) -> None:
        await self._consumer.stop()

    async def fetch(self, *, max_records: int, timeout: float) -> list[ReceivedRecord]:
        batches = await self._consumer.getmany(timeout_ms=int(timeout * 1000),
                                               max_records=max_records)
        return [
            ReceivedRecord(
                topic=m.topic.removeprefix(self._namespace), partition=m.partition,
                offset=m.offset,
                key=(m.key or b"").decode(), value=m.value or b"",
                headers=tuple(m.headers or ()),
            )
            for messages in batches.values()
            for m in messages
        ]

    async def lag(self) -> dict[tuple[str, int], int]:
        behind: dict[tuple[str, int], int] = {}
        for tp in self._consumer.assignment():
            head = self._consumer.highwater(tp)
            if head is not None:
                behind[(tp.topic.removeprefix(self._namespace), tp.partition)] = max(
                    0, head - await self._consumer.position(tp))
        return behind

    async def commit(self, record: ReceivedRecord) -> None:
        tp = TopicPartition(self._namespace + record.topic, record.partition)
        await self._consumer.commit({tp: OffsetAndMetadata(record.offset + 1, "")})
