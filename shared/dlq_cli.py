"""The command line of ``python -m shared.dlq`` (list, replay): which bus, from
flags or a service's environment, and what to print. The reading and replaying
are in :mod:`shared.dlq`."""

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from aiokafka.errors import KafkaError
from pydantic_settings import SettingsConfigDict
from sqlalchemy.engine import make_url

from shared.bus.base import Bus
from shared.bus.snapshot import EventLogMissing
from shared.dlq import DeadLetterReadStalled, read_dead_letters, replay
from shared.dlq import __doc__ as dead_letters_doc
from shared.inbox import dlq_topic
from shared.runtime import build_bus
from shared.settings import ServiceSettings

_BUS_FIELDS = ("bus", "kafka_bootstrap_servers", "kafka_namespace", "bus_database_url")


def _parser(prog: str = "python -m shared.dlq") -> argparse.ArgumentParser:
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
    parser = argparse.ArgumentParser(prog=prog, description=dead_letters_doc,
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


def main(argv: list[str], prog: str = "python -m shared.dlq") -> int:
    """``prog``: how the usage names the command (``capaflow dlq`` runs it too)."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    args = _parser(prog).parse_args(argv)
    try:
        return asyncio.run(_run(args))
    except ValueError as exc:  # e.g. a --bootstrap that is not HOST:PORT
        print(f"{prog}: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except (KafkaError, OSError) as exc:
        # An operator's tool: the bus being unreachable is one line, not a traceback.
        print(f"{prog}: the bus did not answer: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
