"""The credential of the supplier's endpoints: a SCAR's response link's token,
sent as ``Authorization: SCAR <token>``, and the rate limits around it.

In a header, not in the path: paths end up in access logs, proxies' logs and
trace attributes, and the token must not (docs/DESIGN.md, "Suppliers and
SCARs"). Two limits, per process: requests per link (the digest, so the limiter
holds no token), and requests per caller whose links opened nothing, so a
caller trying tokens is slowed to a crawl long before it could matter.
"""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request

from shared.db import utcnow
from shared.errors import NotFound
from shared.http.app import sessions_of
from shared.http.errors import Problem
from shared.http.rate_limit import SlidingWindow

from ..domain.scar import token_digest, well_formed
from ..service.scar_responses import LINK_NOT_FOUND, link_is_live
from ..settings import CapaSettings

SCHEME = "scar"


class LinkLimits:
    def __init__(self, settings: CapaSettings) -> None:
        self.per_link = SlidingWindow(limit=settings.scar_link_requests_per_minute,
                                      window=60.0)
        self.unknown_per_caller = SlidingWindow(
            limit=settings.scar_unknown_link_requests_per_minute, window=60.0)


def _limits(request: Request) -> LinkLimits:
    state = request.app.state
    limits: LinkLimits | None = getattr(state, "scar_link_limits", None)
    if limits is None:
        limits = state.scar_link_limits = LinkLimits(state.settings)
    return limits


def _too_many(retry_after: float) -> Problem:
    return Problem(429, "Too many requests with this link or from this address; try again "
                        "in a little while.", title="Too Many Requests",
                   headers={"Retry-After": str(int(retry_after))})


async def link_token(request: Request) -> AsyncIterator[str]:
    """The presented token, once the limits allow it; a link that opens nothing
    counts against the caller (the use cases answer 404 for it)."""
    limits = _limits(request)
    caller = request.client.host if request.client else "unknown"
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    token = value.strip()
    waiting = limits.unknown_per_caller.blocked(caller)
    # Over the dead-link limit, only a link that opens a SCAR gets through (one
    # indexed lookup): every supplier behind the web UI shares its address.
    if waiting is not None and not (
            scheme.lower() == SCHEME and well_formed(token)
            and await link_is_live(sessions_of(request), token, utcnow())):
        raise _too_many(waiting)
    if scheme.lower() != SCHEME or not well_formed(token):
        limits.unknown_per_caller.hit(caller)
        raise NotFound(LINK_NOT_FOUND)
    waiting = limits.per_link.hit(token_digest(token))
    if waiting is not None:
        raise _too_many(waiting)
    try:
        yield token
    except NotFound:
        limits.unknown_per_caller.hit(caller)
        raise


LinkToken = Annotated[str, Depends(link_token)]
