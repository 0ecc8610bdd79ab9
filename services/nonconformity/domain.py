"""Nonconformity rules. Pure Python: no framework, database or bus imports."""

from enum import StrEnum


class NonconformityStatus(StrEnum):
    reported = "reported"
    triaged = "triaged"
    escalated = "escalated"
    closed = "closed"
    rejected = "rejected"


def nonconformity_number(year: int, sequence: int) -> str:
    """The readable number people quote, e.g. ``NC-2026-00042``."""
    return f"NC-{year}-{sequence:05d}"
