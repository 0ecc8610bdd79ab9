"""Kafka helpers: isolated consumer groups, a capa.opened observer, clean-up."""

import asyncio
import json
import time
from collections.abc import Mapping, Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import OffsetAndMetadata


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    for _ in range(50):
        cluster = await consumer._client.fetch_all_metadata()
        parts = cluster.partitions_for_topic(topic)
        if parts:
            return [TopicPartition(topic, p) for p in sorted(parts)]
        await asyncio.sleep(0.2)
    raise RuntimeError(f"topic {topic} has no partitions")


async def start_group_at_end(bootstrap: str, group: str, topics: Sequence[str]) -> None:
    """Commit the current end offsets for a new consumer group, so a service joining
    it reads only what is produced from now on (not the topics' whole history)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [tp for t in topics for tp in await _partitions(consumer, t)]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        await consumer.commit({tp: OffsetAndMetadata(ends[tp], "") for tp in tps})
    finally:
        await consumer.stop()


async def group_lag(bootstrap: str, groups: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """Records not yet committed by each consumer group on its topics."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        lag = {}
        for group, topics in groups.items():
            committed = await admin.list_consumer_group_offsets(group)
            tps = [tp for t in topics for tp in await _partitions(consumer, t)]
            ends = await consumer.end_offsets(tps)
            lag[group] = sum(max(0, ends[tp] - (committed[tp].offset if tp in committed else 0))
                             for tp in tps)
        return lag
    finally:
        await consumer.stop()
        await admin.close()


class CapaOpenedObserver:
    """Reads capa.events from its current end and notes when each NC's CAPA opened."""

    def __init__(self, bootstrap: str, topic: str = "capa.events") -> None:
        self._bootstrap = bootstrap
        self._topic = topic
        self.opened: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=self._bootstrap, enable_auto_commit=False,
                                    isolation_level="read_committed")
        await consumer.start()
        tps = await _partitions(consumer, self._topic)
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        for tp in tps:
            await consumer.position(tp)
        self._consumer = consumer
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        assert self._consumer is not None
        while True:
            batches = await self._consumer.getmany(timeout_ms=500)
            now = time.time()
            for messages in batches.values():
                for m in messages:
                    try:
                        event = json.loads(m.value or b"{}")
                    except ValueError:
                        continue
                    if str(event.get("type", "")).startswith("capaflow.capa.opened"):
                        nc = (event.get("data") or {}).get("nonconformity_id")
                        if nc:
                            self.opened.setdefault(nc, now)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._consumer:
            await self._consumer.stop()


async def delete_topics(bootstrap: str, topics: Sequence[str]) -> None:
    """Best effort: remove the bench's own topics. (aiokafka cannot delete consumer
    groups; the bench's empty groups expire with the broker's offsets retention.)"""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        mine = [t for t in topics if t in existing]
        if mine:
            await admin.delete_topics(mine)
    finally:
        await admin.close()
