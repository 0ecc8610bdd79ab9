"""Thin FastAPI routers: parse, authorize, call a use case (errors map in shared.http)."""

from . import actions, analysis, capas, evidence, records, signatures, similar, work

ROUTERS = [capas.router, analysis.router, actions.router, records.router, evidence.router,
           signatures.router, work.router, similar.router]

__all__ = ["ROUTERS"]
