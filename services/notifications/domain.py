"""Notification rules. Pure Python: no framework, database or bus imports.

Filter matching, the retry schedule and the SSRF classification of target
addresses live here so they can be tested without a network or a database.
"""

import ipaddress
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum
from fnmatch import fnmatchcase
from typing import Any


class Channel(StrEnum):
    webhook = "webhook"
    email = "email"
    slack = "slack"


class DeliveryMode(StrEnum):
    immediate = "immediate"
    daily = "daily"
    weekly = "weekly"


class DeliveryStatus(StrEnum):
    pending = "pending"
    delivered = "delivered"
    dead_lettered = "dead_lettered"


SEVERITY_RANK = {"observation": 0, "minor": 1, "major": 2, "critical": 3}


@dataclass(frozen=True)
class EventFilter:
    """What a subscriber wants. Empty fields match everything; set fields must all match.

    A set field the event does not carry (say ``min_severity`` on a
    ``capa.closed``) does not match: the subscriber asked for a property the
    event cannot prove.
    """

    event_types: tuple[str, ...] = ()
    min_severity: str | None = None
    sources: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()
    nonconformity_id: str | None = None
    capa_id: str | None = None

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> "EventFilter":
        def tup(name: str) -> tuple[str, ...]:
            return tuple(str(v) for v in raw.get(name) or ())

        def opt(name: str) -> str | None:
            value = raw.get(name)
            return None if value is None else str(value)

        return cls(event_types=tup("event_types"), min_severity=opt("min_severity"),
                   sources=tup("sources"), categories=tup("categories"), tags=tup("tags"),
                   owners=tup("owners"), nonconformity_id=opt("nonconformity_id"),
                   capa_id=opt("capa_id"))

    def matches(self, event_type: str, data: Mapping[str, Any]) -> bool:
        return self.matches_type(event_type) and self.matches_data(data)

    def matches_type(self, event_type: str) -> bool:
        # Split from matches_data: the glob test depends on the type alone, so a
        # matcher can run it once per event type instead of once per event.
        return not self.event_types or any(fnmatchcase(event_type, p) for p in self.event_types)

    def matches_data(self, data: Mapping[str, Any]) -> bool:
        if self.min_severity is not None:
            rank = SEVERITY_RANK.get(str(data.get("severity")))
            if rank is None or rank < SEVERITY_RANK[self.min_severity]:
                return False
        if self.sources and data.get("source") not in self.sources:
            return False
        if self.categories and data.get("category") not in self.categories:
            return False
        if self.tags and not set(self.tags) & {str(t) for t in data.get("tags") or ()}:
            return False
        if self.owners and data.get("owner") not in self.owners:
            return False
        if self.nonconformity_id is not None:
            ncs = {str(data.get("nonconformity_id"))} | {
                str(i) for i in data.get("nonconformity_ids") or ()}
            if self.nonconformity_id not in ncs:
                return False
        return self.capa_id is None or str(data.get("capa_id")) == self.capa_id


# --- retries ---------------------------------------------------------------

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


# --- SSRF ------------------------------------------------------------------

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: Iterable[str]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(v, strict=False) for v in values)


def refused_address(address: str, allowed: Sequence[IPNetwork]) -> str | None:
    """Why a target address is refused, or None when it may be called."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in net for net in allowed):
        return None
    for kind, flag in (("loopback", ip.is_loopback), ("link-local", ip.is_link_local),
                       ("private", ip.is_private), ("multicast", ip.is_multicast),
                       ("reserved", ip.is_reserved), ("unspecified", ip.is_unspecified)):
        if flag:
            return f"{address} is a {kind} address"
    if not ip.is_global:
        return f"{address} is not a public address"
    return None


# --- digests ---------------------------------------------------------------

def digest_period(mode: DeliveryMode, now: datetime) -> tuple[datetime, datetime]:
    """The last complete period before ``now``: a UTC day, or a week from Monday."""
    end = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if mode is DeliveryMode.weekly:
        end -= timedelta(days=end.weekday())
        return end - timedelta(days=7), end
    return end - timedelta(days=1), end


@dataclass
class CapaBook:
    """Open CAPAs as far as the events we consumed tell.

    Only CAPA-level facts are kept: an action's ``due_date`` (on
    ``action_added``) is not the CAPA's.
    """

    open: dict[str, dict[str, Any]] = field(default_factory=dict)

    def apply(self, event_type: str, data: Mapping[str, Any]) -> None:
        capa_id = data.get("capa_id")
        if capa_id is None or not event_type.startswith("capaflow.capa."):
            return
        key = str(capa_id)
        verb = event_type.split(".")[2] if event_type.count(".") >= 3 else ""
        if verb in ("closed", "cancelled"):
            self.open.pop(key, None)
            return
        if verb == "opened":
            self.open[key] = dict(data)
            return
        capa = self.open.setdefault(key, {"capa_id": key})
        capa.update({k: data[k] for k in ("number", "title", "severity", "owner")
                     if data.get(k) is not None})
        if verb == "status_changed" and data.get("to_status"):
            capa["status"] = data["to_status"]
        if verb == "overdue":
            capa["overdue"] = True
            capa["due_date"] = data.get("due_date", capa.get("due_date"))

    def overdue(self, now: datetime) -> list[dict[str, Any]]:
        today = now.date().isoformat()
        return [capa for capa in self.open.values()
                if capa.get("overdue") or (capa.get("due_date")
                                           and str(capa["due_date"])[:10] < today)]
