"""Helpers the use cases share: loading a CAPA for change, the audit trail,
the fields every CAPA event carries, and the row-to-response views."""

import json
import logging
from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.errors import Conflict, NotFound
from shared.evidence.attach import EvidencePublic

from ..domain.audit_chain import GENESIS, KEYED, PLAIN, entry_hash, head_value
from ..domain.workflow import FINISHED_ACTION, TERMINAL, allowed_moves
from ..models import ActionRow, AuditEntry, Capa, CapaNonconformity
from ..schemas import ActionPublic, CapaPublic, EffectivenessPlan

SYSTEM = "system"
log = logging.getLogger(__name__)


class AuditKey:
    """The key audit entries are keyed with (``CAPA_AUDIT_KEY``), set by ``create_app``.

    Process-wide because entries are written from requests, consumers and jobs
    alike; one process serves one CAPA database, so one key.
    """

    value: bytes | None = None

    @classmethod
    def use(cls, key: str | None) -> None:
        cls.value = key.encode() if key else None
        if key is None:
            log.warning("CAPA_AUDIT_KEY is not set: new audit entries are plain SHA-256, "
                        "which whoever can edit the database can recompute")


async def load_capa(session: AsyncSession, capa_id: UUID, *, for_update: bool = False) -> Capa:
    query = select(Capa).where(col(Capa.id) == capa_id)
    if for_update:
        # Serializes writers of one CAPA (PostgreSQL; SQLite's BEGIN IMMEDIATE already does).
        query = query.with_for_update()
    capa = (await session.exec(query)).first()
    if capa is None:
        raise NotFound(f"There is no CAPA with id {capa_id}.")
    return capa


def require_open(capa: Capa, doing: str) -> None:
    if capa.status in TERMINAL:
        raise Conflict(f"{capa.number} is {capa.status}; {doing} is no longer possible.",
                       status_now=str(capa.status))


def touch(capa: Capa, now: datetime) -> None:
    capa.version += 1
    capa.updated_at = now


def jsonable(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """What JSON storage hands back, so the hash covers exactly what is stored."""
    if value is None:
        return None
    result: dict[str, Any] = json.loads(json.dumps(value, default=str))
    return result


def audit_content(entry: AuditEntry) -> dict[str, Any]:
    return {"capa_id": str(entry.capa_id), "sequence": entry.sequence,
            "at": entry.at.isoformat(), "actor": entry.actor, "action": entry.action,
            "before": entry.before, "after": entry.after, "reason": entry.reason}


async def record_change(session: AsyncSession, *, capa_id: UUID, actor: str, action: str,
                        at: datetime, before: dict[str, Any] | None = None,
                        after: dict[str, Any] | None = None,
                        reason: str | None = None, first: bool = False) -> AuditEntry:
    """Append one entry to the CAPA's audit trail, chained to the previous one.

    Callers hold the CAPA row lock, so sequence numbers cannot race. ``first``:
    the CAPA was created in this transaction, so its trail is empty (no query).
    """
    last = None if first else (await session.exec(
        select(AuditEntry).where(col(AuditEntry.capa_id) == capa_id)
        .order_by(col(AuditEntry.sequence).desc()).limit(1))).first()
    key = AuditKey.value
    entry = AuditEntry(capa_id=capa_id, sequence=(last.sequence + 1) if last else 1, at=at,
                       actor=actor, action=action, before=jsonable(before),
                       after=jsonable(after), reason=reason,
                       previous_hash=last.hash if last else GENESIS, hash="",
                       scheme=KEYED if key else PLAIN)
    entry.hash = entry_hash(entry.previous_hash, audit_content(entry), key)
    session.add(entry)
    if key is not None:
        # The keyed head moves with the chain: removing the last entries shows.
        capa = await session.get(Capa, capa_id)
        if capa is not None:
            capa.audit_head = head_value(key, str(capa_id), entry.sequence, entry.hash)
    return entry


def event_fields(capa: Capa) -> dict[str, Any]:
    return {"capa_id": capa.id, "number": capa.number, "severity": capa.severity,
            "owner": capa.owner}


async def linked_nonconformities(session: AsyncSession, capa_id: UUID) -> list[UUID]:
    rows = (await session.exec(select(CapaNonconformity.nonconformity_id)
                               .where(col(CapaNonconformity.capa_id) == capa_id)
                               .order_by(col(CapaNonconformity.linked_at)))).all()
    return list(rows)


async def linked_nonconformities_of(session: AsyncSession, capa_ids: list[UUID]
                                    ) -> dict[UUID, list[UUID]]:
    """The linked NCs of a page of CAPAs, in one query."""
    found: dict[UUID, list[UUID]] = {capa_id: [] for capa_id in capa_ids}
    if capa_ids:
        rows = (await session.exec(select(CapaNonconformity)
                                   .where(col(CapaNonconformity.capa_id).in_(capa_ids))
                                   .order_by(col(CapaNonconformity.linked_at)))).all()
        for row in rows:
            found[row.capa_id].append(row.nonconformity_id)
    return found


def capa_view(capa: Capa, nonconformity_ids: list[UUID], today: date) -> CapaPublic:
    plan = (EffectivenessPlan(criteria=capa.effectiveness_criteria,
                              check_date=capa.effectiveness_check_date)
            if capa.effectiveness_criteria and capa.effectiveness_check_date else None)
    return CapaPublic(
        id=capa.id, number=capa.number, title=capa.title, description=capa.description,
        kind=capa.kind, source=capa.source, severity=capa.severity,
        likelihood=capa.likelihood, risk_score=capa.risk_score, status=capa.status,
        allowed_transitions=allowed_moves(capa.status), owner=capa.owner,
        due_date=capa.due_date,
        overdue=capa.status not in TERMINAL and capa.due_date < today,
        reopen_count=capa.reopen_count, nonconformity_ids=nonconformity_ids,
        cause_category=capa.cause_category, effectiveness_plan=plan,
        created_by=capa.created_by, opened_at=capa.opened_at, updated_at=capa.updated_at,
        closed_at=capa.closed_at, cancelled_at=capa.cancelled_at,
        cancel_reason=capa.cancel_reason, version=capa.version,
        supplier_code=capa.supplier_code)


def action_view(action: ActionRow, today: date,
                attachments: list[EvidencePublic] | None = None) -> ActionPublic:
    return ActionPublic(
        id=action.id, capa_id=action.capa_id, kind=action.kind,
        description=action.description, owner=action.owner, due_date=action.due_date,
        status=action.status,
        overdue=action.status not in FINISHED_ACTION and action.due_date < today,
        completion_evidence=action.completion_evidence, completed_by=action.completed_by,
        completed_at=action.completed_at, created_by=action.created_by,
        created_at=action.created_at, updated_at=action.updated_at, version=action.version,
        attachments=attachments)
