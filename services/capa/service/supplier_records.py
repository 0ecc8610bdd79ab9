"""One supplier's records for its detail page: the NCs attributed to it (kept
from the nonconformity service's events, service.attribution), the CAPAs naming
it and the SCARs sent to it; newest first, a bounded number of each."""

from sqlmodel import col, select

from shared.db import SessionFactory

from ..models import Capa
from ..supplier_models import Scar, SupplierNonconformity
from ..supplier_record_schemas import (
    SupplierCapaRef,
    SupplierNcRef,
    SupplierRecords,
    SupplierScarRef,
)
from .suppliers import find_supplier, supplier_view

RECORDS_LIMIT = 50


async def supplier_records(sessions: SessionFactory, *, code: str,
                           limit: int = RECORDS_LIMIT) -> SupplierRecords:
    """``code`` is canonical; one the register lacks still gets its records."""
    async with sessions() as session:
        supplier = await find_supplier(session, code)
        ncs = (await session.exec(
            select(SupplierNonconformity).where(col(SupplierNonconformity.supplier_code) == code)
            .order_by(col(SupplierNonconformity.reported_at).desc()).limit(limit))).all()
        capas = (await session.exec(
            select(Capa).where(col(Capa.supplier_code) == code)
            .order_by(col(Capa.opened_at).desc()).limit(limit))).all()
        scars = (await session.exec(
            select(Scar).where(col(Scar.supplier_code) == code)
            .order_by(col(Scar.sent_at).desc()).limit(limit))).all()
    return SupplierRecords(
        code=code, supplier=supplier_view(supplier) if supplier else None, limit=limit,
        nonconformities=[SupplierNcRef(id=n.nonconformity_id, number=n.number,
                                       severity=n.severity, reported_at=n.reported_at)
                         for n in ncs],
        capas=[SupplierCapaRef(id=c.id, number=c.number, title=c.title, status=c.status)
               for c in capas],
        scars=[SupplierScarRef(id=s.id, number=s.number, capa_id=s.capa_id, status=s.status,
                               due_date=s.due_date, sent_at=s.sent_at) for s in scars])
