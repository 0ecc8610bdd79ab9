"""CAPA rules. Pure Python: no framework, database or bus imports."""

from enum import StrEnum


class CapaStatus(StrEnum):
    open = "open"
    investigating = "investigating"
    action_planned = "action_planned"
    implementing = "implementing"
    verifying = "verifying"
    closed = "closed"
    cancelled = "cancelled"


def capa_number(year: int, sequence: int) -> str:
    """The readable number people quote, e.g. ``CAPA-2026-00017``."""
    return f"CAPA-{year}-{sequence:05d}"
