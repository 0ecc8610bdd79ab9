"""Thin FastAPI routers: parse, authorize, call a use case (errors map in shared.http)."""

from . import deliveries, live, subscriptions

ROUTERS = [subscriptions.router, deliveries.router, live.router]

__all__ = ["ROUTERS"]
