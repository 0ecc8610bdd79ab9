"""Inspect, replay and discard a service's outbox dead letters.

    python -m shared.outbox_dlq --service nonconformity list [--all]
    python -m shared.outbox_dlq --service nonconformity show ID [--full]
    python -m shared.outbox_dlq --service nonconformity replay ID [ID ...]
    python -m shared.outbox_dlq --service nonconformity discard ID [ID ...]

ID is the outbox row id (the number ``list`` shows) or the event id. The
database is ``--database-url``, else the service's own ``<SERVICE>_DATABASE_URL``
(run it in that service's pod), else the ``make run`` default
(``var/<service>.sqlite``).

The relay (:mod:`shared.relay`) dead-letters an outbox row the bus refused
for good (too large for the broker, invalid): it sets ``dead_lettered_at``
and ``dead_letter_error`` and publishes what follows, so later events of the
same aggregate are out without it. ``replay`` clears the mark: the relay
publishes the row again on its next pass, ahead of newer rows (it keeps its
id), but behind the events of its aggregate already published; consumers
check state, as with any redelivery. Fix what made the bus refuse it first
(for instance raise the topic's ``max.message.bytes`` to at least the
documented event maximum), or it is dead-lettered again. ``discard`` keeps
the row, marked discarded, so ``list`` no longer shows it and the
``capaflow_outbox_dead_letters`` gauge drops; ``list --all`` still does.
"""

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import ColumnElement
from sqlalchemy.engine import make_url
from sqlmodel import col, or_, select

from shared.db import SessionFactory, create_engine, session_factory, transaction, utcnow
from shared.outbox import OutboxMessage

SERVICES = ("nonconformity", "capa", "notifications")
# What ``show`` prints of an event's value unless --full.
_SHOWN_BYTES = 4096


def database_url(service: str, given: str | None = None) -> str:
    return (given or os.environ.get(f"{service.upper()}_DATABASE_URL")
            or f"sqlite+aiosqlite:///var/{service}.sqlite")


def _missing_sqlite_file(url: str) -> str | None:
    parsed = make_url(url)
    path = parsed.database
    if parsed.get_backend_name() == "sqlite" and path and path != ":memory:" \
            and not Path(path).exists():
        return path
    return None


def _chosen(refs: Sequence[str]) -> ColumnElement[bool]:
    """Rows named by outbox id or by event id."""
    # Outbox ids are 64-bit: a longer number names no row (and would not bind).
    ids = [int(r) for r in refs if r.isdigit() and len(r) <= 18]
    return or_(col(OutboxMessage.id).in_(ids), col(OutboxMessage.event_id).in_(list(refs)))


async def dead_letters(sessions: SessionFactory, *,
                       include_discarded: bool = False) -> list[OutboxMessage]:
    """The service's dead letters, oldest first (not discarded unless asked)."""
    query = select(OutboxMessage).where(col(OutboxMessage.dead_lettered_at).is_not(None))
    if not include_discarded:
        query = query.where(col(OutboxMessage.discarded_at).is_(None))
    async with sessions() as session:
        return list((await session.exec(query.order_by(col(OutboxMessage.id)))).all())


async def find(sessions: SessionFactory, ref: str) -> OutboxMessage | None:
    async with sessions() as session:
        return (await session.exec(select(OutboxMessage).where(_chosen([ref])))).first()


async def replay(sessions: SessionFactory, refs: Sequence[str]) -> list[OutboxMessage]:
    """Clears the dead-letter mark of these rows (discarded ones too): the
    relay publishes them again. Returns the rows replayed."""
    async with transaction(sessions) as session:
        rows = list((await session.exec(select(OutboxMessage).where(
            _chosen(refs), col(OutboxMessage.dead_lettered_at).is_not(None)))).all())
        for row in rows:
            row.dead_lettered_at = row.dead_letter_error = row.discarded_at = None
    return rows


async def discard(sessions: SessionFactory, refs: Sequence[str]) -> list[OutboxMessage]:
    """Marks these dead letters discarded (the rows stay). Returns them."""
    async with transaction(sessions) as session:
        rows = list((await session.exec(select(OutboxMessage).where(
            _chosen(refs), col(OutboxMessage.dead_lettered_at).is_not(None),
            col(OutboxMessage.discarded_at).is_(None)))).all())
        for row in rows:
            row.discarded_at = utcnow()
    return rows


def describe(row: OutboxMessage) -> str:
    error = " ".join((row.dead_letter_error or "").split())
    state = f"discarded {row.discarded_at.isoformat()}" if row.discarded_at else "waiting"
    return "\t".join((str(row.id), row.event_id, row.event_type, row.key,
                      f"{len(row.value)} B",
                      row.dead_lettered_at.isoformat() if row.dead_lettered_at else "-",
                      state, error))


def _show(row: OutboxMessage, *, full: bool) -> None:
    for name, field in (("outbox id", row.id), ("event id", row.event_id),
                        ("type", row.event_type), ("topic", row.topic), ("key", row.key),
                        ("bytes", len(row.value)), ("created", row.created_at),
                        ("sent", row.sent_at), ("dead-lettered", row.dead_lettered_at),
                        ("discarded", row.discarded_at), ("error", row.dead_letter_error)):
        print(f"{name}:\t{'-' if field is None else field}")
    print("headers:\t" + json.dumps(dict(json.loads(row.headers))))
    value = row.value if full else row.value[:_SHOWN_BYTES]
    print(value.decode(errors="replace"))
    if len(value) < len(row.value):
        print(f"... {len(row.value) - len(value)} more bytes (--full prints them)",
              file=sys.stderr)


def _parser(prog: str = "python -m shared.outbox_dlq") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--service", required=True, choices=SERVICES)
    parser.add_argument("--database-url",
                        help="the service's database (default: <SERVICE>_DATABASE_URL)")
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="print the dead letters")
    listing.add_argument("--all", action="store_true", help="discarded ones too")
    show = commands.add_parser("show", help="print one dead letter, headers and value")
    show.add_argument("ref", metavar="ID", help="outbox row id or event id")
    show.add_argument("--full", action="store_true", help="the whole value")
    again = commands.add_parser("replay", help="let the relay publish them again")
    again.add_argument("refs", metavar="ID", nargs="+")
    drop = commands.add_parser("discard", help="mark them discarded (the rows stay)")
    drop.add_argument("refs", metavar="ID", nargs="+")
    return parser


async def run(argv: Sequence[str], prog: str = "python -m shared.outbox_dlq") -> int:
    args = _parser(prog).parse_args(list(argv))
    url = database_url(args.service, args.database_url)
    absent = _missing_sqlite_file(url)
    if absent:
        # Reading must not create an empty database where none was.
        print(f"{prog}: no database at {absent}: set {args.service.upper()}_DATABASE_URL "
              "(or --database-url) to the service's database", file=sys.stderr)
        return 2
    engine = create_engine(url)
    sessions = session_factory(engine)
    try:
        if args.command == "list":
            rows = await dead_letters(sessions, include_discarded=args.all)
            print("id\tevent id\ttype\tkey\tsize\tdead-lettered\tstate\terror")
            for row in rows:
                print(describe(row))
            print(f"{len(rows)} dead letter(s) in the {args.service} outbox"
                  + ("" if args.all else " waiting"), file=sys.stderr)
            return 0
        if args.command == "show":
            found = await find(sessions, args.ref)
            if found is None:
                print(f"no outbox row {args.ref}", file=sys.stderr)
                return 1
            _show(found, full=args.full)
            return 0
        act = replay if args.command == "replay" else discard
        rows = await act(sessions, args.refs)
        verb = "replayed" if args.command == "replay" else "discarded"
        for row in rows:
            print(f"{verb}\t{describe(row)}")
        matched = {str(r.id) for r in rows} | {r.event_id for r in rows}
        missing = [ref for ref in args.refs if ref not in matched]
        if missing:
            print("not found among the dead letters:", *missing, file=sys.stderr)
        print(f"{len(rows)} dead letter(s) {verb}", file=sys.stderr)
        return 1 if missing else 0
    finally:
        await engine.dispose()


def main(argv: Sequence[str], prog: str = "python -m shared.outbox_dlq") -> int:
    """``prog``: how the usage names the command (``capaflow outbox-dlq`` runs it too)."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    return asyncio.run(run(argv, prog))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
