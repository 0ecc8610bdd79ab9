"""Apache Kafka adapter (aiokafka): the production bus."""

import asyncio
import logging
from collections.abc import Awaitable, Generator, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import (
    CommitFailedError,
    CorruptRecordException,
    InvalidTopicError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
)
from aiokafka.structs import OffsetAndMetadata
from typing_extensions import override

from shared.bus import kafka_spans
from shared.bus.base import OutgoingRecord, PartlyRefused, ReceivedRecord

log = logging.getLogger(__name__)

# Seconds stop() may spend committing what was handled before it leaves the group.
_STOP_COMMIT_TIMEOUT = 2.0

# Errors about the record itself: sent again it is refused again. Everything
# else (broker down, timeouts, not enough replicas, and the OutOfOrderSequence
# that follows a refused record on its partition) goes away with a retry on a
# fresh producer. UnknownTopicOrPartition is not here: aiokafka raises it for
# a topic being created as for an invalid name.
_REFUSED = (MessageSizeTooLargeError, RecordTooLargeError, RecordListTooLargeError,
            InvalidTopicError, CorruptRecordException)


def _settled() -> Awaitable[None]:
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    done.set_result(None)
    return done


class _ProducerReplaced(ConnectionError):
    pass


class _Acks:
    """What begin_publish returns: the acknowledgement of one call, and the
    producer that carries its records."""

    def __init__(self, producer: AIOKafkaProducer, acknowledged: asyncio.Future[None]) -> None:
        self.producer = producer
        self._acknowledged = acknowledged

    def __await__(self) -> Generator[Any, None, None]:
        return self._acknowledged.__await__()

    def succeeded(self) -> bool:
        """Every record was acknowledged or refused for good: none is still on
        its way, so nothing sent later can overtake it."""
        done = self._acknowledged
        if not done.done() or done.cancelled():
            return False
        error = done.exception()
        return error is None or (isinstance(error, PartlyRefused) and error.cause is None)


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

    @property
    def bootstrap_servers(self) -> str:
        return self._bootstrap

    @property
    def client_id(self) -> str:
        return self._client_id

    @property
    def namespace(self) -> str:
        return self._namespace

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

    async def _drop_producer(self, failed: AIOKafkaProducer | None = None) -> None:
        async with self._lock:
            if failed is not None and self._producer is not failed:
                return  # whoever saw it fail first dropped it already
            producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    async def publish(self, records: Sequence[OutgoingRecord]) -> None:
        await (await self.begin_publish(records))

    async def begin_publish(self, records: Sequence[OutgoingRecord], *,
                            after: Awaitable[None] | None = None) -> Awaitable[None]:
        if not records:
            return _settled()
        producer = await self._ensure_producer()
        if isinstance(after, _Acks) and after.producer is not producer and not after.succeeded():
            # The producer was replaced (a failed publish elsewhere, a failed
            # ping) while ``after`` is unacknowledged: sent through the new one,
            # these records could overtake it.
            raise _ProducerReplaced("the producer changed under a pipelined publish")
        # send() queues in call order; the idempotent producer keeps that
        # order per partition even across internal retries, and across
        # calls as long as they share this producer.
        acks: list[asyncio.Future[Any]] = []
        refused_at_send: dict[int, BaseException] = {}
        try:
            for index, r in enumerate(records):
                try:
                    acks.append(await kafka_spans.send(producer, self._namespace + r.topic, r))
                except _REFUSED as exc:
                    # Over max_request_size: refused before it entered the
                    # producer, which stays usable for the records after it.
                    refused_at_send[index] = exc
        except Exception:
            await self._drop_producer(producer)
            raise
        return _Acks(producer, asyncio.ensure_future(
            self._acknowledged(producer, acks, refused_at_send, len(records))))

    async def _acknowledged(self, producer: AIOKafkaProducer, acks: list[asyncio.Future[Any]],
                            refused_at_send: dict[int, BaseException], count: int) -> None:
        # Every ack settles before this returns, so a caller that waited for
        # all of its calls knows nothing of them is still on the way.
        results = iter(await asyncio.gather(*acks, return_exceptions=True))
        outcomes = [refused_at_send[i] if i in refused_at_send else next(results)
                    for i in range(count)]
        errors = {i: r for i, r in enumerate(outcomes) if isinstance(r, BaseException)}
        if not errors:
            return
        if len(errors) > len(refused_at_send):
            # Start the next attempt on a fresh producer: after a broker outage
            # the old one can hold expired batches and a fenced producer id, and
            # after a refused batch its partition's sequence numbers have a gap.
            await self._drop_producer(producer)
        settled = next((i for i, e in errors.items() if not isinstance(e, _REFUSED)), count)
        refused = {i: e for i, e in errors.items() if i < settled}
        if not refused:
            raise errors[settled]
        raise PartlyRefused(refused, settled=settled, cause=errors.get(settled))

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
            bootstrap_servers=bootstrap_servers,
            client_id=f"{client_id}-{group}",
            group_id=group,
            # Offsets are committed by hand, only after the handler's database
            # transaction committed (see shared.inbox).
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
        )
        self._consumer.subscribe(topics=[namespace + t for t in topics],
                                 listener=_CommitBeforeRevoke(self))
        # Next offset to commit per partition: handled, not committed yet.
        self._handled: dict[TopicPartition, int] = {}

    async def start(self) -> None:
        await self._consumer.start()

    async def stop(self) -> None:
        try:
            await asyncio.wait_for(self.commit_handled(), timeout=_STOP_COMMIT_TIMEOUT)
        except Exception:
            # Not committed means redelivered to the next member; the inbox
            # makes that a no-op.
            log.warning("committing handled offsets on stop failed", exc_info=True)
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

    def mark_handled(self, record: ReceivedRecord) -> None:
        tp = TopicPartition(self._namespace + record.topic, record.partition)
        self._handled[tp] = record.offset + 1

    async def commit_handled(self) -> None:
        # Taken before the first await: a commit from the rebalance listener
        # running meanwhile sends only what was marked after this one.
        handled, self._handled = self._handled, {}
        if not handled:
            return
        assigned = self._consumer.assignment()
        # A partition taken away by a rebalance is not ours to commit: its new
        # owner starts at the last committed offset, and the inbox skips what
        # this member handled since.
        offsets = {tp: OffsetAndMetadata(offset, "") for tp, offset in handled.items()
                   if tp in assigned}
        if not offsets:
            return
        try:
            await self._consumer.commit(offsets)
        except CommitFailedError:
            log.info("group rebalanced before the commit; the handled records will be "
                     "redelivered and skipped by the inbox", exc_info=True)


class _CommitBeforeRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    """Commits what was handled before the partitions move to another member,
    so it does not redeliver a whole batch there."""

    def __init__(self, subscription: KafkaSubscription) -> None:
        self._subscription = subscription

    @override
    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        try:
            await self._subscription.commit_handled()
        except Exception:
            log.warning("committing handled offsets before a rebalance failed", exc_info=True)

    @override
    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        return None
