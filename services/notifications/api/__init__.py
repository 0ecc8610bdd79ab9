"""Thin FastAPI routers: parse, authorize, call a use case (errors map in shared.http)."""

from . import bulletins, deliveries, live, subscriptions, watches

ROUTERS = [subscriptions.router, deliveries.router, live.router, watches.router,
           bulletins.router]

__all__ = ["ROUTERS"]
