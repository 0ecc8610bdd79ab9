"""Thin FastAPI routers: parse, authorize, call a use case (errors map in shared.http)."""

from . import actions, analysis, capas, records, signatures

ROUTERS = [capas.router, analysis.router, actions.router, records.router, signatures.router]

__all__ = ["ROUTERS"]
