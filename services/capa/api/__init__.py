"""Thin FastAPI routers: parse, authorize, call a use case (errors map in shared.http)."""

from . import (
    actions,
    analysis,
    capas,
    evidence,
    objectives,
    records,
    review,
    scars,
    signatures,
    similar,
    supplier_records,
    supplier_response,
    suppliers,
    work,
)

ROUTERS = [capas.router, analysis.router, actions.router, records.router, evidence.router,
           signatures.router, work.router, similar.router, objectives.router,
           objectives.metrics_router, review.router, suppliers.router, scars.router,
           supplier_response.router, supplier_records.router]

__all__ = ["ROUTERS"]
