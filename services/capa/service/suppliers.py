"""The supplier register (ISO 9001 8.4): quality managers keep it, everyone reads it."""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.auth import Principal
from shared.db import SessionFactory, transaction
from shared.errors import Conflict, NotFound
from shared.events.suppliers import SupplierRegistered, SupplierUpdated
from shared.outbox import record_event
from shared.versions import check_if_match

from ..domain.supplier import SupplierCriticality, check_unique_contacts
from ..supplier_models import Supplier
from ..supplier_schemas import (
    Contact,
    SupplierCreate,
    SupplierPage,
    SupplierPublic,
    SupplierUpdate,
)

SERVICE = "capa"
MAX_PAGE = 200


def supplier_view(row: Supplier) -> SupplierPublic:
    return SupplierPublic(id=row.id, code=row.code, name=row.name, supplies=row.supplies,
                          criticality=row.criticality,
                          contacts=[Contact(**c) for c in row.contacts], version=row.version,
                          created_by=row.created_by, created_at=row.created_at,
                          updated_at=row.updated_at)


def _search_text(name: str, code: str) -> str:
    return f"{name.casefold()} {code}"


def _event_fields(row: Supplier) -> dict[str, Any]:
    return {"supplier_id": row.id, "code": row.code, "name": row.name,
            "criticality": str(row.criticality)}


async def find_supplier(session: AsyncSession, code: str) -> Supplier | None:
    found: Supplier | None = (await session.exec(
        select(Supplier).where(col(Supplier.code) == code))).first()
    return found


async def require_supplier(session: AsyncSession, code: str) -> Supplier:
    """The registered supplier of ``code`` or a 409 saying to register it: the
    code is well-formed (the schema saw to that) but the register lacks it."""
    supplier = await find_supplier(session, code)
    if supplier is None:
        # Read by people in the web's forms: where to register is the client's to say.
        raise Conflict(f"No supplier with the code '{code}' is in the supplier register; "
                       "choose a registered supplier, or ask a quality manager to register "
                       "it first.", title="Unknown supplier",
                       supplier_code=code)
    return supplier


# Codes that name a page of the register, not a supplier (GET /v1/suppliers/scorecards).
RESERVED_CODES = frozenset({"scorecards", "new"})


async def register_supplier(sessions: SessionFactory, *, request: SupplierCreate,
                            principal: Principal, now: datetime) -> SupplierPublic:
    if request.code in RESERVED_CODES:
        raise Conflict(f"'{request.code}' names a page of the register; choose another "
                       "code.", title="Supplier code taken", supplier_code=request.code)
    check_unique_contacts(c.email for c in request.contacts)
    row = Supplier(code=request.code, name=request.name, supplies=request.supplies,
                   search_text=_search_text(request.name, request.code),
                   criticality=request.criticality,
                   contacts=[c.model_dump() for c in request.contacts],
                   created_by=principal.subject, created_at=now, updated_at=now)
    try:
        async with transaction(sessions) as session:
            if await find_supplier(session, request.code) is not None:
                raise _taken(request.code)
            session.add(row)
            await session.flush()
            record_event(session, service=SERVICE, data=SupplierRegistered(
                **_event_fields(row), registered_by=principal.subject,
                registered_at=now))
    except IntegrityError as exc:  # registered by someone else meanwhile
        raise _taken(request.code) from exc
    return supplier_view(row)


def _taken(code: str) -> Conflict:
    return Conflict(f"A supplier with the code '{code}' is already registered.",
                    title="Supplier code taken", supplier_code=code)


async def update_supplier(sessions: SessionFactory, *, code: str, request: SupplierUpdate,
                          if_match: str | None, principal: Principal,
                          now: datetime) -> SupplierPublic:
    if request.contacts is not None:
        check_unique_contacts(c.email for c in request.contacts)
    async with transaction(sessions) as session:
        row = await get_supplier_row(session, code, for_update=True)
        check_if_match(if_match, row.version)
        changes = request.model_dump(exclude_unset=True)
        changed = [name for name, value in changes.items() if getattr(row, name) != value]
        for name in changed:
            setattr(row, name, changes[name])
        if not changed:
            return supplier_view(row)
        row.search_text = _search_text(row.name, row.code)
        row.version += 1
        row.updated_at = now
        record_event(session, service=SERVICE, data=SupplierUpdated(
            **_event_fields(row), changed=sorted(changed),
            updated_by=principal.subject, updated_at=now))
        return supplier_view(row)


async def get_supplier_row(session: AsyncSession, code: str, *,
                           for_update: bool = False) -> Supplier:
    query = select(Supplier).where(col(Supplier.code) == code)
    if for_update:
        query = query.with_for_update()
    row = (await session.exec(query)).first()
    if row is None:
        raise NotFound(f"There is no supplier with the code '{code}'.")
    return row


async def get_supplier(sessions: SessionFactory, *, code: str) -> SupplierPublic:
    async with sessions() as session:
        return supplier_view(await get_supplier_row(session, code))


async def list_suppliers(sessions: SessionFactory, *, q: str | None,
                         criticality: SupplierCriticality | None, cursor: str | None,
                         limit: int) -> SupplierPage:
    """By code; ``q`` finds a part of the name or code, in any case."""
    query = select(Supplier).order_by(col(Supplier.code)).limit(min(limit, MAX_PAGE) + 1)
    if q:
        needle = q.casefold().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(col(Supplier.search_text).like(f"%{needle}%", escape="\\"))
    if criticality is not None:
        query = query.where(col(Supplier.criticality) == criticality)
    if cursor:
        query = query.where(col(Supplier.code) > cursor)
    async with sessions() as session:
        rows = list((await session.exec(query)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return SupplierPage(items=[supplier_view(r) for r in rows],
                        next_cursor=rows[-1].code if more and rows else None)


async def supplier_of(session: AsyncSession, supplier_id: UUID) -> Supplier | None:
    return await session.get(Supplier, supplier_id)
