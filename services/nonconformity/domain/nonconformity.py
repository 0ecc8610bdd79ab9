"""The nonconformity's vocabulary: statuses, sources, audit findings, numbers.

Statuses, sources, severities and the CAPA link are published vocabulary (the
web UI offers and reads them, clients send them): defined once in
shared.vocabulary, named here.
"""

import re
from datetime import datetime
from enum import StrEnum
from typing import Protocol
from uuid import UUID

# CapaLink is re-exported ("as"): the other domain modules import it from here.
from shared.vocabulary import CapaLink as CapaLink
from shared.vocabulary import NonconformityStatus, Severity


class FindingType(StrEnum):
    major_nc = "major_nc"
    minor_nc = "minor_nc"
    observation = "observation"
    ofi = "ofi"  # opportunity for improvement


class TriageDecision(StrEnum):
    accept = "accept"
    reject = "reject"
    duplicate = "duplicate"


FINDING_SEVERITY = {
    FindingType.major_nc: Severity.major,
    FindingType.minor_nc: Severity.minor,
    FindingType.observation: Severity.observation,
    FindingType.ofi: Severity.observation,
}

# ISO clause references such as "8.5.1" or "10.2": 4 to 10, up to 3 sub-levels.
CLAUSE_PATTERN = re.compile(r"^(?:[4-9]|10)(?:\.\d{1,2}){0,3}$")

OPEN_STATUSES = frozenset({NonconformityStatus.reported, NonconformityStatus.accepted})


def nonconformity_number(year: int, sequence: int) -> str:
    """The readable number people quote, e.g. ``NC-2026-00042``."""
    return f"NC-{year}-{sequence:05d}"


def recurrence_key(category: str | None, affected_item: str | None) -> str | None:
    """What makes two NCs "the same problem" besides an alert fingerprint: the
    category and the affected item, compared without regard to case or padding."""
    if not category or not affected_item:
        return None
    return f"{category.strip().lower()}|{affected_item.strip().lower()}"


class ProblemRecord(Protocol):
    """What the escalation rules read of an NC; the table row is one."""

    @property
    def id(self) -> UUID: ...
    @property
    def fingerprint(self) -> str | None: ...
    @property
    def recurrence_key(self) -> str | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def capa_link(self) -> CapaLink: ...
    @property
    def capa_id(self) -> UUID | None: ...
    @property
    def escalated_at(self) -> datetime | None: ...
    @property
    def severity(self) -> Severity: ...
    @property
    def finding_type(self) -> str | None: ...
