"""``python -m services.capa.migrate``: apply this service's migrations, then
key the audit chains written before ``CAPA_AUDIT_KEY`` was set (see
``service.audit_keying``)."""

import asyncio
from pathlib import Path

from shared.db import create_engine, session_factory
from shared.migrations import upgrade

from .service.audit_keying import key_legacy_chains
from .settings import CapaSettings


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
          + (f"; already broken, left unkeyed: {', '.join(report.broken)}"
             if report.broken else ""))


if __name__ == "__main__":
    settings = CapaSettings()
    upgrade(Path(__file__).resolve().parent / "migrations", settings.database_url)
    asyncio.run(key_audit_chains(settings))
