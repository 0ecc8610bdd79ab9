"""``capaflow``: one command for the operators' tools.

    capaflow migrate {nonconformity,capa,notifications,web,bus,all} [--key-legacy-chains]
    capaflow credentials {dev,add,revoke,revoke-key} ...
    capaflow dlq {list,replay} --group GROUP ...           (python -m shared.dlq)
    capaflow outbox-dlq --service SERVICE {list,show,replay,discard} ...
                                                           (python -m shared.outbox_dlq)
    capaflow audit verify [CAPA ...]
    capaflow signatures verify [CAPA ...]

Each subcommand hands over to the module that does the work; the
``python -m ...`` commands those modules had keep working. Settings come from
the environment exactly as the services read them (``CAPA_DATABASE_URL``,
``CAPA_AUDIT_KEY``, ...), so the command runs in a service's pod as it runs
beside ``make run``. Exit codes: 0 done, 1 done but something was wrong (a
broken audit trail or signature, a dead letter not found, a database that did not answer),
2 the command line or a setting is wrong.

It lives in ``services/``, not ``shared/``: it composes every service, and
shared code never imports a service.
"""

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsError
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError

PROG = "capaflow"
SERVICES = ("nonconformity", "capa", "notifications")
MIGRATION_TARGETS = (*SERVICES, "web", "bus")
# Handed over whole: their modules parse their own arguments (and print their own --help).
DELEGATED = {"dlq": "shared.dlq_cli", "outbox-dlq": "shared.outbox_dlq"}
_DELEGATED_HELP = {"dlq": "list and replay a consumer group's dead letters (<group>.dlq)",
                   "outbox-dlq": "list, show, replay and discard a service's outbox "
                                 "dead letters"}


T = TypeVar("T", bound=BaseSettings)


class CommandError(Exception):
    """A setting or argument the command cannot work with: exit 2 with this message."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\nIt lives")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_migrate(commands)
    _add_credentials(commands)
    for name in DELEGATED:
        # Listed for the overview only: main() hands these over before parsing.
        commands.add_parser(name, help=f"{_DELEGATED_HELP[name]} (capaflow {name} --help)",
                            add_help=False)
    audit = commands.add_parser("audit", help="the CAPA audit trail")
    checks = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    verify = checks.add_parser(
        "verify", help="verify the hash chains of every CAPA (or those named)",
        description="Check each CAPA's audit trail against its hashes and keyed head, "
                    "reading CAPA_DATABASE_URL and CAPA_AUDIT_KEY like the service. "
                    "Exit 0 when every trail is intact, 1 when one is not.")
    verify.add_argument("capas", nargs="*", metavar="CAPA",
                        help="CAPA number (CAPA-2025-0001) or id; default: every CAPA")
    signatures = commands.add_parser("signatures", help="the CAPAs' electronic signatures")
    signature_checks = signatures.add_subparsers(dest="signatures_command", required=True,
                                                 metavar="ACTION")
    check = signature_checks.add_parser(
        "verify", help="recompute every electronic signature (or those of the CAPAs named)",
        description="Recompute each signature's hash from the stored record (reading "
                    "CAPA_DATABASE_URL like the service) and name those that no longer "
                    "match. Exit 0 when every signature holds, 1 when one does not.")
    check.add_argument("capas", nargs="*", metavar="CAPA",
                       help="CAPA number (CAPA-2025-0001) or id; default: every CAPA")
    return parser


def _add_migrate(commands: Any) -> None:
    migrate = commands.add_parser(
        "migrate", help="apply the Alembic migrations of a service, the web UI or the sql bus",
        description="Apply migrations; each database comes from the target's settings "
                    "(NONCONFORMITY_DATABASE_URL, ..., WEB_DATABASE_URL; the sql bus's "
                    "event log from NONCONFORMITY_BUS_DATABASE_URL). 'all' does what "
                    "deploy/migrate.sh does: the three services, the web UI, and the "
                    "event log when NONCONFORMITY_BUS is sql (the default).")
    migrate.add_argument("target", choices=(*MIGRATION_TARGETS, "all"))
    migrate.add_argument("--key-legacy-chains", action="store_true",
                         help="capa: key the audit chains written while CAPA_AUDIT_KEY was "
                              "unset (once, on purpose: it trusts them as they are)")
    migrate.add_argument("--bus-url", metavar="URL",
                         help="bus: the event log's database (default: "
                              "NONCONFORMITY_BUS_DATABASE_URL)")


def _add_credentials(commands: Any) -> None:
    credentials = commands.add_parser(
        "credentials", help="create and revoke API keys and source tokens",
        description="The key store is CAPAFLOW_CREDENTIALS_FILE (default var/api-keys.json); "
                    "only hashes are stored. Running services notice changes within seconds.")
    actions = credentials.add_subparsers(dest="credentials_command", required=True,
                                         metavar="ACTION")
    actions.add_parser("dev", help="development keys for every role and source tokens "
                                   "(loopback only; kept if present)")
    add = actions.add_parser("add", help="a new key for SUBJECT with ROLEs; printed once")
    add.add_argument("subject")
    add.add_argument("roles", nargs="+", metavar="ROLE")
    revoke = actions.add_parser("revoke", help="remove every key of SUBJECT")
    revoke.add_argument("subject")
    actions.add_parser("revoke-key", help="remove the one key read from standard input")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args and args[0] in DELEGATED:
            return _delegate(args[0], args[1:])
        parsed = build_parser().parse_args(args)
        return _guarded(lambda: _run(parsed))
    except SystemExit as exc:  # argparse: 0 after --help, 2 for bad arguments
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 2


def _delegate(command: str, rest: list[str]) -> int:
    import importlib

    module = importlib.import_module(DELEGATED[command])
    result: int = _guarded(lambda: module.main(rest, prog=f"{PROG} {command}"))
    return result


def _guarded(action: Callable[[], int]) -> int:
    """Settings and database failures as one line, not a traceback."""
    try:
        return action()
    except (CommandError, ArgumentError) as exc:
        print(f"{PROG}: {_one_line(exc)}", file=sys.stderr)
        return 2
    except (OperationalError, DBAPIError, ConnectionError, TimeoutError) as exc:
        print(f"{PROG}: the database did not answer: {_one_line(exc)}", file=sys.stderr)
        return 1
    except OSError as exc:  # a file it must read or write (a key store, a database file)
        print(f"{PROG}: {_one_line(exc)}", file=sys.stderr)
        return 1


def _one_line(exc: Exception) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return " ".join(text.split())


def _run(args: argparse.Namespace) -> int:
    if args.command == "migrate":
        return _migrate(args)
    if args.command == "credentials":
        return _credentials(args)
    # Imported here: the checks load the capa service, which migrate and credentials
    # do not need.
    from services.cli_checks import verify_audit, verify_signatures

    if args.command == "signatures":
        return asyncio.run(verify_signatures(args.capas))
    return asyncio.run(verify_audit(args.capas))


def _credentials(args: argparse.Namespace) -> int:
    from shared import credentials

    action = args.credentials_command
    argv = {"dev": ["dev"], "add": ["add", getattr(args, "subject", ""),
                                    *getattr(args, "roles", [])],
            "revoke": ["revoke", getattr(args, "subject", "")],
            "revoke-key": ["revoke-key"]}[action]
    return credentials.main(argv)


def _migrate(args: argparse.Namespace) -> int:
    if args.key_legacy_chains and args.target not in ("capa", "all"):
        raise CommandError("--key-legacy-chains is for the capa database (migrate capa or all)")
    if args.bus_url and args.target not in ("bus", "all"):
        raise CommandError("--bus-url is for the sql bus's event log (migrate bus or all)")
    targets = [args.target] if args.target != "all" else [*SERVICES, "web", *_bus_if_sql()]
    for target in targets:
        _migrate_one(target, args)
        print(f"migrated {target}")
    return 0


def read_settings(cls: type[T]) -> T:
    """The settings the service would read; a bad value names its variable."""
    try:
        return cls()
    except ValidationError as exc:
        prefix = str(cls.model_config.get("env_prefix", ""))
        problems = "; ".join(
            f"{prefix}{'_'.join(str(p) for p in error['loc']).upper()}: {error['msg']}"
            for error in exc.errors())
        raise CommandError(problems) from None
    except SettingsError as exc:  # a value that is not even JSON where a list/dict is due
        raise CommandError(" ".join(str(exc).split())) from None


def _bus_if_sql() -> list[str]:
    from services.nonconformity.settings import NonconformitySettings

    return ["bus"] if read_settings(NonconformitySettings).bus == "sql" else []


def _migrate_one(target: str, args: argparse.Namespace) -> None:

    if target == "capa":
        from services.capa.migrate import migrate
        from services.capa.settings import CapaSettings

        asyncio.run(migrate(read_settings(CapaSettings), key_legacy_chains=args.key_legacy_chains))
    elif target == "bus":
        from services.nonconformity.settings import NonconformitySettings
        from shared.bus.migrate import migrate as migrate_bus

        migrate_bus(args.bus_url or read_settings(NonconformitySettings).bus_database_url)
    else:
        # Every other history: its module's migrate(settings), as python -m runs it.
        import importlib

        module = importlib.import_module(f"services.{target}.migrate")
        settings_module = importlib.import_module(f"services.{target}.settings")
        settings_class = getattr(settings_module, _SETTINGS_CLASS[target])
        module.migrate(read_settings(settings_class))


_SETTINGS_CLASS = {"nonconformity": "NonconformitySettings",
                   "notifications": "NotificationsSettings", "web": "WebSettings"}


if __name__ == "__main__":
    # Run the imported module's main, not this __main__ copy: services.cli_checks
    # raises services.cli.CommandError, which a second copy of the class would not catch.
    from services.cli import main as imported_main

    sys.exit(imported_main())
