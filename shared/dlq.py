"""Inspect and replay a consumer group's dead letters (``<group>.dlq``).

    python -m shared.dlq list   --group capa [--all]             [--env-prefix CAPA_]
    python -m shared.dlq replay --group capa [--event-id ID ...]  [--bus kafka --bootstrap H:P]

The bus is chosen like a service chooses it: ``--env-prefix CAPA_`` reads
CAPA_BUS, CAPA_KAFKA_BOOTSTRAP_SERVERS, CAPA_KAFKA_NAMESPACE and
CAPA_BUS_DATABASE_URL (run it in that service's worker pod); flags override.
Without a prefix the defaults are those of ``make run``.

``shared.inbox`` dead-letters a record unchanged plus ``dlq-*`` headers and
does not mark the event processed. Replay republishes it to its original
topic (same key, same value, original headers plus ``dlq-replayed-at``), so
the group that failed handles it again, and every other group reading that
topic sees an event it already processed: a no-op thanks to the inbox. The
replayed event lands behind later events of its aggregate; handlers check
state, so they cope with that as with any redelivery.

Both commands read the DLQ only up to the end it had when they started
(shared.bus.snapshot): what a replay sends back to the DLQ waits for the
next run instead of being replayed again and again. A record that is not a
readable CloudEvent has no event id and would only be dead-lettered again:
replay skips it, says so, and does not offer it again; it needs a fix where
it was produced.

Replay commits what it replayed or skipped to ``<group>.dlq-replayer``
(offsets only: the tool never joins a group), so the next replay does not
repeat it. ``list`` shows what that group has not replayed yet (``--all``:
the whole DLQ) and commits nothing.
"""

import asyncio
import sys
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass, field

from shared.bus.base import Bus, OutgoingRecord, ReceivedRecord
from shared.bus.snapshot import TopicSnapshot, open_snapshot
from shared.db import utcnow
from shared.events.envelope import from_record
from shared.inbox import dlq_topic

REPLAYED_AT = "dlq-replayed-at"


def replayer_group(group: str) -> str:
    return f"{group}.dlq-replayer"


class DeadLetterReadStalled(RuntimeError):
    """The DLQ did not reach its end: no record came for ``idle`` seconds."""


@dataclass(frozen=True)
class DeadLetter:
    record: ReceivedRecord
    # None when the value is not a readable CloudEvent (dead-lettered at once).
    event_id: str | None
    event_type: str | None
    unreadable: str | None = None

    @classmethod
    def of(cls, record: ReceivedRecord) -> "DeadLetter":
        try:
            event = from_record(record)
        except Exception as exc:
            reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
            return cls(record=record, event_id=None, event_type=None, unreadable=reason)
        return cls(record=record, event_id=event.get_id(), event_type=event.get_type())

    def header(self, name: str) -> str:
        value = self.record.header(name)
        return value.decode(errors="replace") if value is not None else ""

    @property
    def original_topic(self) -> str:
        return self.header("dlq-original-topic")

    @property
    def unreplayable(self) -> str | None:
        """Why replaying this record cannot help, or None."""
        if self.unreadable is not None:
            return (f"not a readable CloudEvent ({self.unreadable}); it would be "
                    "dead-lettered again: fix its producer")
        if not self.original_topic:
            return "no dlq-original-topic header: not written by shared.inbox"
        return None

    def describe(self) -> str:
        error = " ".join(f"{self.header('dlq-error-type')}: {self.header('dlq-error')}".split())
        return "\t".join((f"{self.record.partition}:{self.record.offset}",
                          self.event_id or "-", self.event_type or "-",
                          f"attempts={self.header('dlq-attempts') or '?'}", error))

    def replay_record(self) -> OutgoingRecord:
        # An earlier replay's dlq-replayed-at goes too: it starts with "dlq-".
        headers = tuple((k, v) for k, v in self.record.headers if not k.startswith("dlq-"))
        return OutgoingRecord(topic=self.original_topic, key=self.record.key,
                              value=self.record.value,
                              headers=(*headers, (REPLAYED_AT, utcnow().isoformat().encode())))


@dataclass
class Replayed:
    replayed: list[DeadLetter] = field(default_factory=list)
    # Never replayable (see DeadLetter.unreplayable): committed past, reported once.
    skipped: list[DeadLetter] = field(default_factory=list)
    # Set when the read stopped before the end; what came before still counts.
    stalled: str | None = None


async def _to_the_end(snapshot: TopicSnapshot, *, idle: float
                      ) -> AsyncIterator[list[ReceivedRecord]]:
    """Batches up to the snapshot's end. ``idle`` seconds without a record
    before it mean the bus stopped answering: raise rather than hang."""
    loop = asyncio.get_running_loop()
    last_record = loop.time()
    while not snapshot.done:
        batch = await snapshot.fetch(max_records=500, timeout=0.5)
        if batch:
            last_record = loop.time()
            yield batch
        elif loop.time() - last_record >= idle:
            raise DeadLetterReadStalled(f"no record for {idle:g} s before the end of the DLQ")


async def read_dead_letters(*, bus: Bus, group: str, pending_only: bool = True,
                            idle: float = 10.0) -> list[DeadLetter]:
    """The group's dead letters, oldest first per partition. Commits nothing."""
    snapshot = open_snapshot(bus, topic=dlq_topic(group),
                             group=replayer_group(group) if pending_only else None)
    try:
        await snapshot.start()
        return [DeadLetter.of(r) async for batch in _to_the_end(snapshot, idle=idle)
                for r in batch]
    finally:
        await snapshot.stop()


async def replay(*, bus: Bus, group: str, event_ids: Collection[str] | None = None,
                 idle: float = 10.0) -> Replayed:
    """Republish the group's pending dead letters (only ``event_ids`` when given).

    A dead letter left out by ``event_ids`` holds back the commit of its
    partition, so it stays pending for a later replay; what was replayed
    behind it may be replayed again then, which the inbox makes a no-op.
    """
    snapshot = open_snapshot(bus, topic=dlq_topic(group), group=replayer_group(group))
    outcome = Replayed()
    held_back: set[int] = set()
    try:
        await snapshot.start()
        async for batch in _to_the_end(snapshot, idle=idle):
            chosen: list[DeadLetter] = []
            done: dict[int, ReceivedRecord] = {}
            for record in batch:
                letter = DeadLetter.of(record)
                if letter.unreplayable is not None:
                    outcome.skipped.append(letter)
                elif event_ids is None or letter.event_id in event_ids:
                    chosen.append(letter)
                else:
                    held_back.add(record.partition)
                    continue
                if record.partition not in held_back:
                    done[record.partition] = record
            # Published (acknowledged) before the commit: a crash in between
            # replays again, which is harmless, never loses a dead letter.
            await bus.publish([letter.replay_record() for letter in chosen])
            for record in done.values():
                await snapshot.commit(record)
            outcome.replayed.extend(chosen)
    except DeadLetterReadStalled as exc:
        outcome.stalled = str(exc)
    finally:
        await snapshot.stop()
    return outcome


if __name__ == "__main__":
    # The command line lives in shared.dlq_cli; `python -m shared.dlq` stays the command.
    from shared.dlq_cli import main

    sys.exit(main(sys.argv[1:]))
