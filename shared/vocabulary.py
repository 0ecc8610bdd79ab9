"""The published vocabulary: the values that cross a service's boundary.

Each service's domain owns the rules around these values, but the values
themselves are read by other parties — events carry them, the web UI offers
them in menus and filters, API clients send them — so they are defined once
here and imported by the domains and the UI alike (no service imports another).
"""

from enum import StrEnum

from shared.events.base import Severity


class NonconformityStatus(StrEnum):
    reported = "reported"
    accepted = "accepted"
    rejected = "rejected"
    duplicate = "duplicate"
    closed = "closed"


class CapaLink(StrEnum):
    """Where the NC stands with its CAPA."""

    none = "none"           # no CAPA asked for
    requested = "requested"  # escalated; waiting for capa.opened
    open = "open"
    closed = "closed"


class Source(StrEnum):
    """Where a nonconformity came from."""

    support = "support"
    monitoring = "monitoring"
    audit = "audit"
    customer = "customer"
    supplier = "supplier"
    internal = "internal"


class CapaStatus(StrEnum):
    open = "open"
    investigating = "investigating"
    action_planned = "action_planned"
    implementing = "implementing"
    verifying = "verifying"
    closed = "closed"
    cancelled = "cancelled"


class CapaKind(StrEnum):
    # Corrective: removes the cause of an existing nonconformity (ISO 9001 10.2).
    corrective = "corrective"
    # Preventive: raised from a risk or an opportunity, no NC behind it (6.1).
    preventive = "preventive"


class ActionKind(StrEnum):
    correction = "correction"  # the immediate fix, not the removal of the cause
    corrective = "corrective"
    preventive = "preventive"


class ActionStatus(StrEnum):
    planned = "planned"
    in_progress = "in_progress"
    done = "done"
    cancelled = "cancelled"


class CauseCategory(StrEnum):
    people = "people"
    process = "process"
    equipment_technology = "equipment_technology"
    materials_supplier = "materials_supplier"
    measurement = "measurement"
    environment = "environment"


class Channel(StrEnum):
    """How a subscription is notified."""

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


__all__ = [
    "ActionKind",
    "ActionStatus",
    "CapaKind",
    "CapaLink",
    "CapaStatus",
    "CauseCategory",
    "Channel",
    "DeliveryMode",
    "DeliveryStatus",
    "NonconformityStatus",
    "Severity",
    "Source",
]


class ScarStatus(StrEnum):
    """Where a supplier corrective action request stands (capa's domain.scar has the moves)."""

    # Sent, nothing submitted yet (the supplier may be keeping a draft).
    sent = "sent"
    # The supplier submitted a response; the engineer judges it.
    responded = "responded"
    # The response was not good enough: back to the supplier, same link.
    rejected = "rejected"
    accepted = "accepted"
    # Withdrawn by the engineer: the link stops working.
    revoked = "revoked"


class SupplierCriticality(StrEnum):
    """How much a supplier's failure hurts: how closely it is watched."""

    critical = "critical"
    high = "high"
    medium = "medium"
    low = "low"
