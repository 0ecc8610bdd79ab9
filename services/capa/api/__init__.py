"""Thin FastAPI routers: parse, authorize, call a use case (errors map in shared.http)."""

from . import actions, analysis, capas, evidence, records, work

ROUTERS = [capas.router, analysis.router, actions.router, records.router, evidence.router,
           work.router]

__all__ = ["ROUTERS"]
