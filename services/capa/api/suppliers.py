"""The supplier register: quality managers register and edit, people read."""

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from starlette.convertors import StringConvertor, register_url_convertor

from shared.auth import Principal
from shared.errors import NotFound
from shared.http.auth import require_roles
from shared.http.concurrency import IfMatch
from shared.inputs import NO_NUL, QueryTime
from shared.periods import forward_period

from ..domain.supplier import (
    CODE_INPUT_PATTERN,
    CODE_MAX,
    InvalidCode,
    SupplierCriticality,
    canonical_code,
)
from ..service.scorecards import supplier_scorecards
from ..service.suppliers import get_supplier, list_suppliers, register_supplier, update_supplier
from ..supplier_schemas import (
    ScorecardReport,
    SupplierCreate,
    SupplierPage,
    SupplierPublic,
    SupplierUpdate,
)
from .deps import NowDep, Reader, SessionsDep, with_etag


class _SupplierCodeSegment(StringConvertor):
    """A path segment naming a supplier: any but the register's own pages. Without
    it, /v1/suppliers/{code} would also match /v1/suppliers/scorecards, so a PATCH
    there would reach the supplier routes and OPTIONS would advertise their methods
    (the register refuses those codes: service.suppliers.RESERVED_CODES)."""

    regex = "(?!scorecards$)[^/]+"


register_url_convertor("supplier_code", _SupplierCodeSegment())

router = APIRouter(prefix="/v1/suppliers", tags=["suppliers"])
QualityManager = Annotated[Principal, Depends(require_roles("manager"))]
CodeParam = Annotated[str, Query(min_length=2, max_length=CODE_MAX,
                                 pattern=CODE_INPUT_PATTERN)]


@router.get("", response_model=SupplierPage, summary="The register, by code; q searches")
async def suppliers(sessions: SessionsDep, _: Reader,
                    q: Annotated[str | None, Query(max_length=100, pattern=NO_NUL)] = None,
                    criticality: SupplierCriticality | None = None,
                    cursor: Annotated[str | None, Query(min_length=2, max_length=CODE_MAX,
                                                        pattern=CODE_INPUT_PATTERN)] = None,
                    limit: Annotated[int, Query(ge=1, le=200)] = 50) -> SupplierPage:
    return await list_suppliers(sessions, q=q, criticality=criticality,
                                cursor=canonical_code(cursor) if cursor else None, limit=limit)


@router.post("", status_code=201, response_model=SupplierPublic,
             summary="Register a supplier (quality managers)")
async def register(body: SupplierCreate, sessions: SessionsDep, principal: QualityManager,
                   now: NowDep) -> JSONResponse:
    view = await register_supplier(sessions, request=body, principal=principal, now=now)
    return with_etag(view, view.version, status_code=201,
                     location=f"/v1/suppliers/{view.code}")


@router.get("/scorecards", response_model=ScorecardReport,
            summary="Scorecards of every supplier for a period, worst first (default: the "
                    "last 90 days)")
async def scorecards(sessions: SessionsDep, _: Reader, now: NowDep,
                     since: QueryTime | None = None,
                     until: QueryTime | None = None) -> ScorecardReport:
    # A backwards or empty period is refused (shared.periods), as the review pack's.
    start, end = forward_period(since, until, now=now, default_length=timedelta(days=90),
                                field="query.since")
    return await supplier_scorecards(sessions, since=start, until=end, now=now)


@router.get("/{code:supplier_code}", response_model=SupplierPublic)
async def supplier(code: str, sessions: SessionsDep, _: Reader) -> JSONResponse:
    view = await get_supplier(sessions, code=_canonical(code))
    return with_etag(view, view.version)


@router.patch("/{code:supplier_code}", response_model=SupplierPublic,
              summary="Edit a supplier (quality managers, If-Match)")
async def edit(code: str, body: SupplierUpdate, sessions: SessionsDep,
               principal: QualityManager, now: NowDep, if_match: IfMatch) -> JSONResponse:
    view = await update_supplier(sessions, code=_canonical(code), request=body,
                                 if_match=if_match, principal=principal, now=now)
    return with_etag(view, view.version)


def _canonical(code: str) -> str:
    """A code in the path in any spelling; one that cannot be a code names no supplier."""
    try:
        return canonical_code(code)
    except InvalidCode as exc:
        raise NotFound(f"There is no supplier with the code '{code[:40]}'.") from exc
