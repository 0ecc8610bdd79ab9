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

import argparse
import asyncio
import logging
import sys
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass, field
from pathlib import Path

from pydantic_settings import SettingsConfigDict
from sqlalchemy.engine import make_url

from shared.bus.base import Bus, OutgoingRecord, ReceivedRecord
from shared.bus.snapshot import EventLogMissing, TopicSnapshot, open_snapshot
from shared.db import utcnow
from shared.events.envelope import from_record
from shared.inbox import dlq_topic
from shared.runtime import build_bus
from shared.settings import ServiceSettings

REPLAYED_AT = "dlq-replayed-at"
_BUS_FIELDS = ("bus", "kafka_bootstrap_servers", "kafka_namespace", "bus_database_url")


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
                        help="give up when no record comes for this many seconds before "
                             "the end of the DLQ (a bus that stopped answering)")
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


def _configuration_problem(args: argparse.Namespace, settings: ServiceSettings) -> str | None:
    """Why these settings cannot name the service's bus, or None. Checked before
    connecting: SQLite would create an empty database where none was."""
    prefix = args.env_prefix
    if prefix and args.bus is None and "bus" not in settings.model_fields_set:
        return (f"{prefix}BUS is not set: run this where the service's worker runs, or set "
                f"{prefix}BUS (kafka or sql) and {prefix}KAFKA_BOOTSTRAP_SERVERS or "
                f"{prefix}BUS_DATABASE_URL, or name the bus with --bus kafka --bootstrap "
                "HOST:PORT or --bus sql --url URL")
    if settings.bus != "sql":
        return None
    url = make_url(settings.bus_database_url)
    path = url.database
    if url.get_backend_name() == "sqlite" and path and path != ":memory:" \
            and not Path(path).exists():
        return f"no event log at {path}: {_name_the_event_log(prefix)}"
    return None


def _name_the_event_log(prefix: str | None) -> str:
    setting = f"{prefix}BUS_DATABASE_URL" if prefix else "--url"
    return (f"set {setting} to the sql bus's database (the one the services share), "
            f"or use --bus kafka")


async def _run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    problem = _configuration_problem(args, settings)
    if problem is not None:
        print(f"shared.dlq: {problem}", file=sys.stderr)
        return 2
    bus = build_bus(settings, client_id="capaflow-dlq")
    await bus.start()
    try:
        return await _command(args, bus)
    except EventLogMissing as exc:
        print(f"shared.dlq: {exc}: {_name_the_event_log(args.env_prefix)}", file=sys.stderr)
        return 2
    except DeadLetterReadStalled as exc:
        print(f"shared.dlq: {exc}", file=sys.stderr)
        return 1
    finally:
        await bus.stop()


async def _command(args: argparse.Namespace, bus: Bus) -> int:
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
    outcome = await replay(bus=bus, group=args.group, event_ids=wanted, idle=args.idle)
    for letter in outcome.replayed:
        print(f"replayed {letter.describe()}\t-> {letter.original_topic}")
    for letter in outcome.skipped:
        print(f"skipped  {letter.describe()}\t({letter.unreplayable})")
    missing = (wanted or set()) - {letter.event_id for letter in outcome.replayed}
    if missing:
        print("not found among the pending dead letters:", *sorted(missing),
              file=sys.stderr)
    print(f"{len(outcome.replayed)} dead letter(s) replayed, {len(outcome.skipped)} skipped"
          + (" (not replayable; not offered again)" if outcome.skipped else ""),
          file=sys.stderr)
    if outcome.stalled:
        print(f"shared.dlq: stopped early: {outcome.stalled}; run it again", file=sys.stderr)
    return 1 if missing or outcome.stalled else 0


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    return asyncio.run(_run(_parser().parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
