"""A supplier's records for its detail page (everyone signed in reads them)."""

from fastapi import APIRouter

from shared.errors import NotFound

from ..domain.supplier import InvalidCode, canonical_code
from ..service.supplier_records import supplier_records
from ..supplier_record_schemas import SupplierRecords
from .deps import Reader, SessionsDep

router = APIRouter(prefix="/v1/suppliers", tags=["suppliers"])


@router.get("/{code}/records", response_model=SupplierRecords,
            summary="A supplier's NCs, CAPAs and SCARs, newest first (also for a code "
                    "that NCs name but the register lacks)")
async def records(code: str, sessions: SessionsDep, _: Reader) -> SupplierRecords:
    try:
        canonical = canonical_code(code[:100])
    except InvalidCode as exc:
        raise NotFound(f"There is no supplier with the code '{code[:40]}'.") from exc
    return await supplier_records(sessions, code=canonical)
