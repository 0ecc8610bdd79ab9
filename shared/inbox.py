"""Idempotent consumers: the inbox table plus the consume loop.

Each record is handled in one database transaction that also inserts
``(consumer_group, event_id)`` into ``processed_events``; the bus offset is
committed only after that transaction committed. A redelivered event is a
no-op. A handler that keeps failing sends the record to ``<group>.dlq``
after ``max_attempts`` tries, and the partition moves on.

Offsets are committed once per fetched batch (the highest handled offset of
each partition), not per record: the inbox already makes redelivery harmless,
and a crash mid-batch only redelivers what was handled since the last commit.
A fetched batch of several records is first tried as one transaction
(shared.inbox_batch); anything unusual sends it down the per-record path.
"""

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from cloudevents.core.v1.event import CloudEvent
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from shared import inbox_batch, tracing
from shared.bus.base import Bus, OutgoingRecord, ReceivedRecord, Subscription
from shared.db import WRITES, SessionFactory, UTCDateTime, is_unavailable, utcnow
from shared.events.base import EventData
from shared.events.envelope import Causation, caused_by, event_data, from_record
from shared.observability import CONSUMER_LAG, EVENTS_CONSUMED, EVENTS_DEAD_LETTERED

log = logging.getLogger(__name__)

# Seconds between consumer-lag measurements (a query on the sql bus).
LAG_INTERVAL = 5.0

D = TypeVar("D", bound=EventData)


@dataclass(frozen=True)
class ConsumedEvent(Generic[D]):
    """One consumed event, its data decoded into its catalog model (shared.events).

    Handlers read ``data`` typed; the envelope stays at hand for what only it
    carries (the id, the subject, the structured form a webhook receives).
    """

    data: D
    envelope: CloudEvent

    @property
    def id(self) -> str:
        return self.envelope.get_id()

    @property
    def type(self) -> str:
        return self.envelope.get_type()

    @property
    def subject(self) -> str:
        return self.envelope.get_subject() or ""

    def causation(self) -> Causation:
        """The causation of events emitted while handling this one."""
        return caused_by(self.envelope)


def consumed(envelope: CloudEvent) -> ConsumedEvent[EventData]:
    """An envelope decoded with the catalog, as a consumer hands it to a handler."""
    return ConsumedEvent(data=event_data(envelope), envelope=envelope)


# handler(session, event): runs inside the consumer's transaction, which also
# records the event as processed; the table keys handlers by catalog model.
Handler = Callable[[AsyncSession, ConsumedEvent[Any]], Awaitable[None]]
HandlerTable = Mapping[type[EventData], Handler]


class ProcessedEvent(SQLModel, table=True):
    __tablename__ = "processed_events"

    consumer_group: str = Field(primary_key=True, max_length=255)
    event_id: str = Field(primary_key=True, max_length=255)
    event_type: str = Field(max_length=255)
    processed_at: datetime = Field(sa_type=UTCDateTime)


class _AlreadyProcessed(Exception):
    pass


def dlq_topic(group: str) -> str:
    return f"{group}.dlq"


class EventConsumer:
    def __init__(self, *, group: str, topics: Sequence[str], handlers: HandlerTable,
                 sessions: SessionFactory, bus: Bus, max_attempts: int = 5,
                 retry_backoff: float = 0.2, batch_size: int = 100) -> None:
        self.group = group
        self._topics = list(topics)
        self._handlers = {model.event_type: (model, handler)
                          for model, handler in handlers.items()}
        self.sessions = sessions
        self._bus = bus
        self._max_attempts = max_attempts
        self._retry_backoff = retry_backoff
        self._batch_size = batch_size
        # Handler attempts already made (and rolled back) by a failed batch, by event id.
        self._tried: dict[str, int] = {}
        # (topic, partition) series of capaflow_consumer_lag this member set.
        self._lag_series: set[tuple[str, int]] = set()

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set; reconnects with backoff when the bus fails."""
        failures = 0
        while not stop.is_set():
            subscription = self._bus.subscribe(group=self.group, topics=self._topics)
            try:
                await subscription.start()
                failures = 0
                measured = 0.0
                while not stop.is_set():
                    records = await subscription.fetch(max_records=self._batch_size, timeout=0.5)
                    if len(records) < 2 or not await inbox_batch.handle_batch(
                            self, records, subscription):
                        for record in records:
                            await self.process(record, subscription)
                    if records:
                        await subscription.commit_handled()
                    now = asyncio.get_running_loop().time()
                    if now - measured >= LAG_INTERVAL:
                        measured = now
                        await self._measure_lag(subscription)
            except Exception:
                failures += 1
                log.warning("consumer %s failed; reconnecting", self.group, exc_info=True)
                try:
                    await asyncio.wait_for(stop.wait(), timeout=min(10.0, 0.5 * 2 ** failures))
                except TimeoutError:
                    pass
            finally:
                # stop() also commits what this batch handled before a failure.
                try:
                    await asyncio.wait_for(subscription.stop(), timeout=5)
                except Exception:
                    log.debug("stopping subscription failed", exc_info=True)
        self._forget_lag(set())

    async def _measure_lag(self, subscription: Subscription) -> None:
        behind = await subscription.lag()
        self._forget_lag(set(behind))
        for (topic, partition), records in behind.items():
            CONSUMER_LAG.labels(self.group, topic, str(partition)).set(records)
        self._lag_series = set(behind)

    def _forget_lag(self, held: set[tuple[str, int]]) -> None:
        # A partition this member no longer reads (a rebalance gave it to another
        # replica, which reports it now) loses its series: left alone it would
        # stay at its last value until a restart, twice for one partition.
        for topic, partition in self._lag_series - held:
            try:
                CONSUMER_LAG.remove(self.group, topic, str(partition))
            except KeyError:
                pass  # removed already (another consumer of this group here)
        self._lag_series &= held

    def tried_in_batch(self, event_id: str) -> None:
        """A batch failed in this event's handler: that was its first attempt."""
        self._tried = {event_id: 1}

    def route(self, event_type: str) -> tuple[type[EventData], Handler] | None:
        """The catalog model and handler of an event type, None if this group ignores it."""
        return self._handlers.get(event_type)

    @staticmethod
    def event_of(model: type[EventData], envelope: CloudEvent) -> ConsumedEvent[Any]:
        """The envelope with its data validated as ``model`` (raises if misshapen)."""
        return ConsumedEvent(data=model.model_validate(envelope.get_data()), envelope=envelope)

    async def process(self, record: ReceivedRecord, subscription: Subscription) -> None:
        """Handle one record to its end (done, duplicate, ignored or dead-lettered), then
        mark it handled; the caller commits the batch's offsets."""
        error: BaseException | None = None
        event_type = "unknown"
        try:
            envelope = from_record(record)
            event_type = envelope.get_type()
            route = self.route(event_type)
            if route is None:
                EVENTS_CONSUMED.labels(self.group, event_type, "ignored").inc()
                subscription.mark_handled(record)
                return
            model, handler = route
            event = self.event_of(model, envelope)
        except Exception as exc:  # unreadable or not its type's shape: retrying cannot help
            await self._dead_letter(record, subscription, exc, attempts=1,
                                    event_type=event_type)
            return

        # At least one attempt here, so a dead letter carries this path's own error.
        attempt = min(self._tried.pop(event.id, 0), self._max_attempts - 1)
        outage = 0
        while attempt < self._max_attempts:
            try:
                await self._handle_once(event, handler)
                EVENTS_CONSUMED.labels(self.group, event_type, "handled").inc()
                break
            except _AlreadyProcessed:
                EVENTS_CONSUMED.labels(self.group, event_type, "duplicate").inc()
                break
            except Exception as exc:
                if is_unavailable(exc):
                    # The database is down, not the record bad: wait for it (the
                    # partition could not progress anyway) instead of dead-lettering.
                    outage += 1
                    log.warning("database unavailable while handling %s; waiting", event_type)
                    await asyncio.sleep(min(5.0, 0.2 * 2 ** min(outage, 5)))
                    continue
                attempt += 1
                error = exc
                log.warning("handler for %s failed (attempt %d/%d)", event_type, attempt,
                            self._max_attempts, exc_info=True,
                            extra={"event_id": event.id, "group": self.group})
                if attempt < self._max_attempts:
                    delay = self._retry_backoff * 2 ** (attempt - 1)
                    await asyncio.sleep(delay * random.uniform(0.5, 1.5))
        else:
            assert error is not None
            await self._dead_letter(record, subscription, error, attempts=self._max_attempts,
                                    event_type=event_type)
            return
        subscription.mark_handled(record)

    async def _handle_once(self, event: ConsumedEvent[Any], handler: Handler) -> None:
        with self.traced(event):
            await self._handle_in_transaction(event, handler)

    @contextmanager
    def traced(self, event: ConsumedEvent[Any]) -> Iterator[None]:
        """The consumer span and trace context of handling one event."""
        envelope = event.envelope
        # The span continues the trace recorded with the event (its traceparent
        # extension, written in the request's transaction), not the relay's
        # publish span: the consumer is the request's child, not the relay's.
        with tracing.span(f"consume {event.type}", kind="consumer",
                          parent=envelope.get_extension("traceparent"),
                          attributes={"messaging.consumer.group.name": self.group,
                                      "messaging.message.id": event.id}) as traceparent:
            context = tracing.TraceContext(
                correlation_id=envelope.get_extension("correlationid") or event.id,
                causation_id=event.id, traceparent=traceparent)
            with tracing.bound(context):
                yield

    async def _handle_in_transaction(self, event: ConsumedEvent[Any], handler: Handler) -> None:
        async with self.sessions() as session, session.begin():
            await session.connection(execution_options=WRITES)
            session.add(ProcessedEvent(consumer_group=self.group, event_id=event.id,
                                       event_type=event.type, processed_at=utcnow()))
            try:
                await session.flush()
            except IntegrityError as exc:
                raise _AlreadyProcessed from exc
            await handler(session, event)

    async def _dead_letter(self, record: ReceivedRecord, subscription: Subscription,
                           error: BaseException, *, attempts: int, event_type: str) -> None:
        headers = (*record.headers,
                   ("dlq-consumer-group", self.group.encode()),
                   ("dlq-original-topic", record.topic.encode()),
                   ("dlq-original-partition", str(record.partition).encode()),
                   ("dlq-original-offset", str(record.offset).encode()),
                   ("dlq-attempts", str(attempts).encode()),
                   ("dlq-error-type", type(error).__name__.encode()),
                   ("dlq-error", str(error)[:2000].encode()))
        # Published straight to the bus and acknowledged before the offset moves,
        # so a dead letter is never lost between the two.
        await self._bus.publish([OutgoingRecord(topic=dlq_topic(self.group), key=record.key,
                                                value=record.value, headers=headers)])
        EVENTS_DEAD_LETTERED.labels(self.group, event_type).inc()
        log.error("dead-lettered %s after %d attempts: %s", event_type, attempts, error,
                  extra={"group": self.group, "offset": record.offset})
        # Dead letters are rare: commit at once rather than with the batch, so a
        # crash before the batch ends cannot dead-letter this record twice.
        subscription.mark_handled(record)
        await subscription.commit_handled()
