"""Correlation and W3C trace context, carried in context variables.

An HTTP request (shared.http.observe) or a consumed event (shared.inbox)
sets them; every event recorded meanwhile inherits them (its
``correlationid``, ``causationid`` and ``traceparent``), and every log line
carries them. No tracing SDK is needed for the ids to flow end to end.
"""

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


@dataclass(frozen=True)
class TraceContext:
    correlation_id: str | None = None
    causation_id: str | None = None
    traceparent: str | None = None


_NONE = TraceContext()
_current: ContextVar[TraceContext | None] = ContextVar("capaflow_trace", default=None)


def current() -> TraceContext:
    return _current.get() or _NONE


@contextmanager
def bound(context: TraceContext) -> Iterator[None]:
    token = _current.set(context)
    try:
        yield
    finally:
        _current.reset(token)


def new_traceparent() -> str:
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def child_of(traceparent: str | None) -> str:
    """A new span id in the caller's trace, or a new trace when there is none."""
    match = _TRACEPARENT.match(traceparent or "")
    if match is None or set(match.group(1)) == {"0"}:
        return new_traceparent()
    return f"00-{match.group(1)}-{secrets.token_hex(8)}-{match.group(3)}"
