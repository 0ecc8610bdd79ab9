"""Notification rules. Pure Python: no framework, database or bus imports.

``kinds`` names the channels, delivery modes and statuses; ``filters`` is what
a subscriber wants to hear about; ``retries`` judges an attempt's answer and
schedules the next try; ``addresses`` is the SSRF classification of target
addresses and ``targets`` the shape of a target per channel; ``digests`` the
digest periods and the open-CAPA book; ``delivery_book`` the delivery
worker's bookkeeping (which queues are in flight, what waits for a slot).
Each can be tested without a network or a database.
"""

from .addresses import IPNetwork, parse_networks, refused_address
from .digests import CapaBook, digest_period
from .filters import SEVERITY_RANK, EventFilter
from .kinds import Channel, DeliveryMode, DeliveryStatus
from .retries import (
    DEFAULT_RETRY_SCHEDULE,
    MAX_RETRY_AFTER,
    AttemptResult,
    Outcome,
    classify_response,
    next_attempt_delay,
    parse_retry_after,
)

__all__ = [
    "DEFAULT_RETRY_SCHEDULE",
    "MAX_RETRY_AFTER",
    "SEVERITY_RANK",
    "AttemptResult",
    "CapaBook",
    "Channel",
    "DeliveryMode",
    "DeliveryStatus",
    "EventFilter",
    "IPNetwork",
    "Outcome",
    "classify_response",
    "digest_period",
    "next_attempt_delay",
    "parse_networks",
    "parse_retry_after",
    "refused_address",
]
