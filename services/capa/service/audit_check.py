"""Verifying every CAPA's audit trail (``capaflow audit verify``) or electronic
signatures (``capaflow signatures verify``) at once.

The API verifies one CAPA per request; an auditor or a scheduled job wants the
whole database checked after a restore or a suspected edit, without an API key
and without the service running. Each trail is checked by the same use case
the API calls (``queries.verify_audit_trail``), so both report alike.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from sqlmodel import col, or_, select

from shared.db import SessionFactory

from ..domain.audit_chain import ChainReport
from ..models import Capa
from ..signature_schemas import SignatureVerification
from .queries import verify_audit_trail
from .signing import verify_signatures


@dataclass(frozen=True)
class TrailVerdict:
    number: str
    capa_id: UUID
    report: ChainReport


async def verify_audit_trails(sessions: SessionFactory, *, refs: Sequence[str] = ()
                              ) -> tuple[list[TrailVerdict], list[str]]:
    """Every CAPA's trail, or those named in ``refs`` (CAPA numbers or ids), in
    number order; also the refs that named no CAPA."""
    found, unknown = await find_capas(sessions, refs)
    verdicts = [TrailVerdict(number, capa_id,
                             await verify_audit_trail(sessions, capa_id=capa_id))
                for capa_id, number in found]
    return verdicts, unknown


@dataclass(frozen=True)
class SignaturesVerdict:
    number: str
    capa_id: UUID
    report: SignatureVerification


async def verify_all_signatures(sessions: SessionFactory, *, refs: Sequence[str] = ()
                                ) -> tuple[list[SignaturesVerdict], list[str]]:
    """Every CAPA's electronic signatures (``capaflow signatures verify``), checked
    by the use case the API calls."""
    found, unknown = await find_capas(sessions, refs)
    verdicts = [SignaturesVerdict(number, capa_id,
                                  await verify_signatures(sessions, capa_id=capa_id))
                for capa_id, number in found]
    return verdicts, unknown


async def find_capas(sessions: SessionFactory, refs: Sequence[str]
                     ) -> tuple[list[tuple[UUID, str]], list[str]]:
    """(id, number) of the CAPAs ``refs`` name (all without refs), in number order,
    and the refs that named none."""
    query = select(Capa.id, Capa.number)
    if refs:
        ids = [UUID(ref) for ref in refs if _is_uuid(ref)]
        query = query.where(or_(col(Capa.number).in_(list(refs)), col(Capa.id).in_(ids)))
    async with sessions() as session:
        found = list((await session.exec(query.order_by(col(Capa.number)))).all())
    named = {number for _, number in found} | {str(capa_id) for capa_id, _ in found}
    unknown = [ref for ref in refs if ref not in named and _normal(ref) not in named]
    return [(capa_id, number) for capa_id, number in found], unknown


def _is_uuid(text: str) -> bool:
    try:
        UUID(text)
    except ValueError:
        return False
    return True


def _normal(ref: str) -> str:
    # An id given in upper case or without dashes still names its CAPA.
    return str(UUID(ref)) if _is_uuid(ref) else ref
