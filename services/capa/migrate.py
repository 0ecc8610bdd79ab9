"""``python -m services.capa.migrate [--key-legacy-chains]``: apply this service's
migrations and, in the run that introduces keyed audit entries (revision 0004),
key the audit chains written before (see ``service.audit_keying``).

Keying trusts the chains as they are, so it never runs on its own again: a
chain stripped of its head later is what someone without the key would leave
behind. An operator who set ``CAPA_AUDIT_KEY`` only after upgrading keys the
chains written meanwhile once, on purpose, with ``--key-legacy-chains``.
"""

import argparse
import asyncio
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from shared.db import create_engine, session_factory
from shared.migrations import upgrade

from .service.audit_keying import key_legacy_chains
from .settings import CapaSettings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The revision that added keyed audit entries and heads.
KEYED_AUDIT_REVISION = 4


async def key_audit_chains(settings: CapaSettings) -> None:
    if settings.audit_key is None:
        print("CAPA_AUDIT_KEY is not set: audit chains stay unkeyed")
        return
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        report = await key_legacy_chains(session_factory(engine),
                                         settings.audit_key.get_secret_value().encode())
    finally:
        await engine.dispose()
    print(f"audit chains keyed: {report.keyed}"
          + (f"; not keyed (verification reports them): {', '.join(report.broken)}"
             if report.broken else ""))


async def applied_revision(url: str) -> int | None:
    """The schema's Alembic revision as a number; None for an empty database."""
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            try:
                version = (await conn.execute(text(
                    "SELECT version_num FROM alembic_version"))).scalar()
            except DBAPIError:
                return None
    finally:
        await engine.dispose()
    return int(version) if version is not None else None


async def migrate(settings: CapaSettings, *, key_legacy_chains: bool = False) -> None:
    before = await applied_revision(settings.database_url)
    # Alembic runs its own event loop: upgrade outside this one.
    await asyncio.to_thread(upgrade, MIGRATIONS, settings.database_url)
    # An empty database has no chains; one below 0004 has only chains from before
    # keys. (Setting alembic_version back to replay this fails: 0004's columns exist.)
    if key_legacy_chains or (before is not None and before < KEYED_AUDIT_REVISION):
        await key_audit_chains(settings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--key-legacy-chains", action="store_true",
                        help="key the audit chains written while CAPA_AUDIT_KEY was unset "
                             "(once, on purpose: it trusts them as they are)")
    args = parser.parse_args()
    asyncio.run(migrate(CapaSettings(), key_legacy_chains=args.key_legacy_chains))


if __name__ == "__main__":
    main()
