"""How an attempt's answer is judged, and when a failed delivery is tried again."""

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum

# Seconds to wait after the 1st, 2nd, ... failed attempt; after the last one
# the delivery is dead-lettered. About 27 hours in all.
DEFAULT_RETRY_SCHEDULE = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
MAX_RETRY_AFTER = 86400.0


class Outcome(StrEnum):
    delivered = "delivered"
    retry = "retry"  # network error, timeout, 5xx, 408, 425, 429
    failed = "failed"  # the receiver refused it for good (other 4xx, SSRF, bad target)
    gone = "gone"  # 410: the endpoint is gone; disable the subscription


@dataclass(frozen=True)
class AttemptResult:
    outcome: Outcome
    status_code: int | None = None
    error: str | None = None
    retry_after: float | None = None  # seconds the receiver asked us to wait


def classify_response(status_code: int, retry_after: float | None = None) -> AttemptResult:
    if 200 <= status_code < 300:
        return AttemptResult(Outcome.delivered, status_code)
    if status_code == 410:
        return AttemptResult(Outcome.gone, status_code, "410 Gone: endpoint disabled")
    if status_code >= 500 or status_code in (408, 425, 429):
        return AttemptResult(Outcome.retry, status_code, f"HTTP {status_code}", retry_after)
    return AttemptResult(Outcome.failed, status_code, f"HTTP {status_code}")


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP-date), capped."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = (parsedate_to_datetime(value) - now).total_seconds()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def next_attempt_delay(*, attempts: int, schedule: Sequence[float],
                       retry_after: float | None = None, jitter: float = 0.2,
                       rng: random.Random | None = None) -> float | None:
    """Delay before the next try after ``attempts`` failed ones, or None: dead-letter.

    Jitter spreads retries of many deliveries that failed together; a
    receiver's ``Retry-After`` is a floor, never shortened by jitter.
    """
    if attempts > len(schedule):
        return None
    base = schedule[attempts - 1]
    delay = base * (rng or random).uniform(1 - jitter, 1 + jitter)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay
