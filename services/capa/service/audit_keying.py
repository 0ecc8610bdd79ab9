"""Keying the audit chains written before ``CAPA_AUDIT_KEY`` existed.

Run by ``python -m services.capa.migrate`` when the key is set, and only while
the database holds no keyed entry: the first time a key is configured, by one
process, never by replicas racing at start-up. A chain
without a head is checked as plain SHA-256 first: only an intact one is
re-hashed with the key and given a head. A broken one is left as it is, so
verification keeps reporting it - keying it would launder the edit. Once
keyed, every entry must be keyed: a plain entry in a chain is an entry
someone rewrote without the key.
"""

import logging
from dataclasses import dataclass, field

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import SessionFactory, transaction

from ..domain.audit_chain import GENESIS, KEYED, ChainedEntry, entry_hash, head_value, verify_chain
from ..models import AuditEntry, Capa
from .common import audit_content

log = logging.getLogger(__name__)


@dataclass
class KeyingReport:
    keyed: int = 0
    # CAPA numbers whose unkeyed chain is already broken: left for the auditor.
    broken: list[str] = field(default_factory=list)


async def key_legacy_chains(sessions: SessionFactory, key: bytes) -> KeyingReport:
    """Key the chains of a database that has never held a keyed entry.

    Once any entry is keyed, the key has been in use and every chain written
    since has a head: a chain without one then is one someone stripped (and
    perhaps rewrote as plain SHA-256), so keying it would launder the edit.
    """
    report = KeyingReport()
    async with sessions() as session:
        already = (await session.exec(select(AuditEntry.id).where(
            col(AuditEntry.scheme) == KEYED).limit(1))).first()
        if already is not None:
            headless = (await session.exec(select(Capa.number).where(
                col(Capa.audit_head).is_(None)))).all()
            if headless:
                log.error("audit chains without a keyed head in a keyed database (not keyed "
                          "again; verification reports them): %s", ", ".join(headless))
            report.broken = list(headless)
            return report
        capa_ids = list((await session.exec(
            select(Capa.id).where(col(Capa.audit_head).is_(None)))).all())
    for capa_id in capa_ids:
        async with transaction(sessions) as session:
            capa = (await session.exec(select(Capa).where(col(Capa.id) == capa_id)
                                       .with_for_update())).one()
            if capa.audit_head is not None:  # keyed meanwhile
                continue
            if await _key_chain(session, capa, key):
                report.keyed += 1
            else:
                report.broken.append(capa.number)
    if report.broken:
        log.error("audit chains already broken before keying, left unkeyed: %s",
                  ", ".join(report.broken))
    return report


async def _key_chain(session: AsyncSession, capa: Capa, key: bytes) -> bool:
    entries = list((await session.exec(
        select(AuditEntry).where(col(AuditEntry.capa_id) == capa.id)
        .order_by(col(AuditEntry.sequence)))).all())
    if not entries:
        return False  # a CAPA's trail starts with its opening: this one was emptied
    plain = verify_chain(ChainedEntry(e.sequence, audit_content(e), e.previous_hash, e.hash,
                                      e.scheme) for e in entries)
    if not plain.valid or any(e.scheme == KEYED for e in entries):
        return False
    previous = GENESIS
    for entry in entries:
        entry.previous_hash = previous
        entry.hash = entry_hash(previous, audit_content(entry), key)
        entry.scheme = KEYED
        previous = entry.hash
        session.add(entry)
    capa.audit_head = head_value(key, str(capa.id), entries[-1].sequence, previous)
    session.add(capa)
    return True
