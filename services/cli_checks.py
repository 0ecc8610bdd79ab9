"""``capaflow audit verify`` and ``capaflow signatures verify``: the CAPA
record's checks, read-only against the capa database (services/cli.py parses
the command line and turns failures into exit codes).

Each prints one tab-separated line per finding on standard output and a
summary on standard error; 1 when something is broken or a CAPA named is
unknown, else 0.
"""

import sys
from pathlib import Path

from sqlalchemy.engine import make_url

from services.cli import CommandError, read_settings


async def verify_audit(refs: list[str]) -> int:
    from services.capa.service.audit_check import verify_audit_trails
    from services.capa.service.common import AuditKey
    from services.capa.settings import CapaSettings
    from shared.db import create_engine, session_factory

    settings = read_settings(CapaSettings)
    _require_existing_sqlite(settings.database_url, "CAPA_DATABASE_URL")
    AuditKey.use(settings.audit_key.get_secret_value() if settings.audit_key else None)
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        verdicts, unknown = await verify_audit_trails(session_factory(engine), refs=refs)
    finally:
        await engine.dispose()
    print("capa\tid\tverdict\tentries\tproblem")
    for verdict in verdicts:
        report = verdict.report
        state = "intact" if report.valid else f"BROKEN at {report.first_broken_sequence or '-'}"
        print(f"{verdict.number}\t{verdict.capa_id}\t{state}\t{report.entries}\t"
              f"{report.problem or ''}")
    broken = [v.number for v in verdicts if not v.report.valid]
    if unknown:
        print("no such CAPA:", *unknown, file=sys.stderr)
    print(f"{len(verdicts)} audit trail(s) checked, {len(broken)} broken"
          + ("" if settings.audit_key else " (CAPA_AUDIT_KEY is not set: keyed entries "
             "cannot be checked)"), file=sys.stderr)
    return 1 if broken or unknown else 0


async def verify_signatures(refs: list[str]) -> int:
    from services.capa.service.audit_check import verify_all_signatures
    from services.capa.settings import CapaSettings
    from shared.db import create_engine, session_factory

    settings = read_settings(CapaSettings)
    _require_existing_sqlite(settings.database_url, "CAPA_DATABASE_URL")
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        verdicts, unknown = await verify_all_signatures(session_factory(engine), refs=refs)
    finally:
        await engine.dispose()
    print("capa\tsignature\tverdict\tsigner\tmeaning\tproblem")
    broken = 0
    for verdict in verdicts:
        for bad in verdict.report.broken:
            broken += 1
            print(f"{verdict.number}\t{bad.id}\tBROKEN\t{bad.signer}\t{bad.meaning}\t"
                  f"{bad.problem}")
        if verdict.report.signatures and verdict.report.valid:
            print(f"{verdict.number}\t-\tintact\t-\t-\t"
                  f"{verdict.report.signatures} signature(s)")
    if unknown:
        print("no such CAPA:", *unknown, file=sys.stderr)
    total = sum(v.report.signatures for v in verdicts)
    print(f"{total} signature(s) of {len(verdicts)} CAPA(s) checked, {broken} broken",
          file=sys.stderr)
    return 1 if broken or unknown else 0


def _require_existing_sqlite(url: str, setting: str) -> None:
    """Reading must not create an empty SQLite database where none was."""
    parsed = make_url(url)
    path = parsed.database
    if parsed.get_backend_name() == "sqlite" and path and path != ":memory:" \
            and not Path(path).exists():
        raise CommandError(f"no database at {path}: set {setting} to the service's database")
