"""Thin FastAPI routers: parse, authorize, call a use case, map errors."""

from . import actions, analysis, capas, records
from .errors import install_error_handlers

ROUTERS = [capas.router, analysis.router, actions.router, records.router]

__all__ = ["ROUTERS", "install_error_handlers"]
