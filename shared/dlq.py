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

The tool reads as its own consumer group, ``<group>.dlq-replayer``, and
commits what it replayed, so the next replay does not repeat it. ``list``
shows what that group has not replayed yet (``--all``: the whole DLQ).
"""

import argparse
import asyncio
import logging
import sys
import uuid
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass

from pydantic_settings import SettingsConfigDict

from shared.bus.base import Bus, OutgoingRecord, ReceivedRecord, Subscription
from shared.db import utcnow
from shared.events.envelope import from_record
from shared.inbox import dlq_topic
from shared.runtime import build_bus
from shared.settings import ServiceSettings

REPLAYED_AT = "dlq-replayed-at"
_BUS_FIELDS = ("bus", "kafka_bootstrap_servers", "kafka_namespace", "bus_database_url")


def replayer_group(group: str) -> str:
    return f"{group}.dlq-replayer"


@dataclass(frozen=True)
class DeadLetter:
    record: ReceivedRecord
    # None when the value is not a readable CloudEvent (dead-lettered at once).
    event_id: str | None
    event_type: str | None

    @classmethod
    def of(cls, record: ReceivedRecord) -> "DeadLetter":
        try:
            event = from_record(record)
        except Exception:
            return cls(record=record, event_id=None, event_type=None)
        return cls(record=record, event_id=event.get_id(), event_type=event.get_type())

    def header(self, name: str) -> str:
        value = self.record.header(name)
        return value.decode(errors="replace") if value is not None else ""

    @property
    def original_topic(self) -> str:
        return self.header("dlq-original-topic")

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


async def _drain(subscription: Subscription, *, idle: float,
                 quiet: float) -> AsyncIterator[list[ReceivedRecord]]:
    """Batches until the subscription caught up with the head of every partition.

    Kafka learns a partition's head only with its first fetch, so "caught up"
    also needs ``quiet`` seconds without records; ``idle`` seconds without any
    record end the read regardless (say, the DLQ topic does not exist yet).
    """
    loop = asyncio.get_running_loop()
    last_record = loop.time()
    while True:
        batch = await subscription.fetch(max_records=500, timeout=0.5)
        now = loop.time()
        if batch:
            last_record = now
            yield batch
            continue
        behind = await subscription.lag()
        caught_up = bool(behind) and not any(behind.values())
        if (caught_up and now - last_record >= quiet) or now - last_record >= idle:
            return


async def read_dead_letters(*, bus: Bus, group: str, pending_only: bool = True,
                            idle: float = 10.0, quiet: float = 1.0) -> list[DeadLetter]:
    """The group's dead letters, oldest first per partition. Commits nothing."""
    reader = replayer_group(group) if pending_only else f"{group}.dlq-list-{uuid.uuid4().hex[:8]}"
    subscription = bus.subscribe(group=reader, topics=[dlq_topic(group)])
    await subscription.start()
    try:
        return [DeadLetter.of(r) async for batch in _drain(subscription, idle=idle, quiet=quiet)
                for r in batch]
    finally:
        await subscription.stop()


async def replay(*, bus: Bus, group: str, event_ids: Collection[str] | None = None,
                 idle: float = 10.0, quiet: float = 1.0) -> list[DeadLetter]:
    """Republish the group's pending dead letters (only ``event_ids`` when given).

    Returns what was replayed. A dead letter that was skipped holds back the
    commit of its partition, so it stays pending for a later replay; what was
    replayed behind it may be replayed again then, which the inbox makes a no-op.
    """
    subscription = bus.subscribe(group=replayer_group(group), topics=[dlq_topic(group)])
    await subscription.start()
    replayed: list[DeadLetter] = []
    held_back: set[int] = set()
    try:
        async for batch in _drain(subscription, idle=idle, quiet=quiet):
            chosen: list[DeadLetter] = []
            done: dict[int, ReceivedRecord] = {}
            for record in batch:
                letter = DeadLetter.of(record)
                wanted = event_ids is None or letter.event_id in event_ids
                if wanted and letter.original_topic:
                    chosen.append(letter)
                    if record.partition not in held_back:
                        done[record.partition] = record
                else:
                    held_back.add(record.partition)
            # Published (acknowledged) before the commit: a crash in between
            # replays again, which is harmless, never loses a dead letter.
            await bus.publish([letter.replay_record() for letter in chosen])
            for record in done.values():
                await subscription.commit(record)
            replayed.extend(chosen)
    finally:
        await subscription.stop()
    return replayed


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--group", required=True,
                        help="the consumer group whose DLQ (<group>.dlq) to read")
    common.add_argument("--env-prefix", metavar="PREFIX",
                        help="read the bus settings from a service's environment, e.g. CAPA_")
    common.add_argument("--bus", choices=["sql", "kafka"])
    common.add_argument("--bootstrap", help="Kafka bootstrap servers (--bus kafka)")
    common.add_argument("--namespace", help="Kafka topic and group prefix (--bus kafka)")
    common.add_argument("--url", help="the event-log database (--bus sql)")
    common.add_argument("--idle", type=float, default=10.0,
                        help="stop after this many seconds without a record")
    parser = argparse.ArgumentParser(prog="python -m shared.dlq", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", parents=[common], help="print dead letters")
    listing.add_argument("--all", action="store_true",
                         help="every dead letter, also those replayed already")
    again = commands.add_parser("replay", parents=[common],
                                help="republish dead letters to their original topic")
    again.add_argument("--event-id", action="append", dest="event_ids", metavar="ID",
                       help="replay only this event (repeatable); default: all pending")
    return parser


def _settings(args: argparse.Namespace) -> ServiceSettings:
    given = {field: value for field, value in (
        ("bus", args.bus), ("kafka_bootstrap_servers", args.bootstrap),
        ("kafka_namespace", args.namespace), ("bus_database_url", args.url))
        if value is not None}
    if args.env_prefix:
        class FromEnvironment(ServiceSettings):
            model_config = SettingsConfigDict(env_prefix=args.env_prefix, extra="ignore")

        return FromEnvironment(**given)
    # Without a prefix the environment is not read: a stray BUS or
    # DATABASE_URL in the shell must not pick the bus.
    defaults = {field: ServiceSettings.model_fields[field].default for field in _BUS_FIELDS}
    return ServiceSettings(**(defaults | given))


async def _run(args: argparse.Namespace) -> int:
    bus = build_bus(_settings(args), client_id="capaflow-dlq")
    await bus.start()
    try:
        if args.command == "list":
            letters = await read_dead_letters(bus=bus, group=args.group,
                                              pending_only=not args.all, idle=args.idle)
            print("offset\tevent id\ttype\tattempts\terror")
            for letter in letters:
                print(letter.describe())
            print(f"{len(letters)} dead letter(s) in {dlq_topic(args.group)}"
                  + ("" if args.all else " not replayed yet"), file=sys.stderr)
            return 0
        wanted = set(args.event_ids) if args.event_ids else None
        letters = await replay(bus=bus, group=args.group, event_ids=wanted, idle=args.idle)
        for letter in letters:
            print(f"replayed {letter.describe()}\t-> {letter.original_topic}")
        missing = (wanted or set()) - {letter.event_id for letter in letters}
        if missing:
            print("not found among the pending dead letters:", *sorted(missing),
                  file=sys.stderr)
        print(f"{len(letters)} dead letter(s) replayed", file=sys.stderr)
        return 1 if missing else 0
    finally:
        await bus.stop()


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    return asyncio.run(_run(_parser().parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
