"""Nonconformity rules: statuses, the escalation policy, severity mapping.

Pure Python: no framework, database or bus imports (DESIGN.md §8).
"""

import re
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from urllib.parse import urlsplit

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
    support = "support"
    monitoring = "monitoring"
    audit = "audit"
    customer = "customer"
    supplier = "supplier"
    internal = "internal"


class FindingType(StrEnum):
    major_nc = "major_nc"
    minor_nc = "minor_nc"
    observation = "observation"
    ofi = "ofi"  # opportunity for improvement


class TriageDecision(StrEnum):
    accept = "accept"
    reject = "reject"
    duplicate = "duplicate"


class EscalationReason(StrEnum):
    severity = "severity"
    recurrence = "recurrence"
    audit_finding = "audit_finding"


FINDING_SEVERITY = {
    FindingType.major_nc: Severity.major,
    FindingType.minor_nc: Severity.minor,
    FindingType.observation: Severity.observation,
    FindingType.ofi: Severity.observation,
}

# ISO clause references such as "8.5.1" or "10.2": 4 to 10, up to 3 sub-levels.
CLAUSE_PATTERN = re.compile(r"^(?:[4-9]|10)(?:\.\d{1,2}){0,3}$")

OPEN_STATUSES = frozenset({NonconformityStatus.reported, NonconformityStatus.accepted})

# Bounds of an NC's text fields. The API refuses longer input (422); the
# monitoring intake cuts it with a visible marker instead, because a tool
# cannot fix its payload and refusing it would lose the alert (and Alertmanager
# would resend the whole batch forever). The column sizes are in models.py.
TITLE_CHARS = 300
DESCRIPTION_CHARS = 10_000
CATEGORY_CHARS = 100
AFFECTED_ITEM_CHARS = 200
TAG_CHARS = 100
# Longer links from monitoring are dropped, not cut (a cut link leads
# nowhere). Generous, because generator URLs carry the alert's whole query.
LINK_URL_CHARS = 8_192
TRUNCATION_MARKER = " [… truncated]"
# Unencodable in UTF-8 (lone surrogates) or in PostgreSQL text (NUL).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> str:
    """``text`` with the characters no database can store replaced by U+FFFD."""
    return _UNSTORABLE.sub("\ufffd", text)


def bounded(text: str | None, limit: int) -> str | None:
    """``text`` in at most ``limit`` characters (as the column counts them);
    a longer one is cut and ends in TRUNCATION_MARKER, so readers see it was."""
    if text is None:
        return None
    text = storable(text)
    if len(text) <= limit:
        return text
    return text[:limit - len(TRUNCATION_MARKER)].rstrip() + TRUNCATION_MARKER


def web_link(url: str | None) -> str | None:
    """``url`` if it is an absolute http(s) URL within LINK_URL_CHARS, else None:
    a ``javascript:`` or ``data:`` link from a payload must never become a link."""
    if not url or len(url) > LINK_URL_CHARS or _UNSTORABLE.search(url):
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:  # e.g. an invalid IPv6 literal
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url.strip()


class TransitionRefused(Exception):
    """A lifecycle move that the rules do not allow; ``allowed`` names what is."""

    def __init__(self, message: str, allowed: list[str]) -> None:
        super().__init__(message)
        self.allowed = allowed


def nonconformity_number(year: int, sequence: int) -> str:
    """The readable number people quote, e.g. ``NC-2026-00042``."""
    return f"NC-{year}-{sequence:05d}"


@dataclass(frozen=True)
class EscalationPolicy:
    escalate_severities: frozenset[Severity] = frozenset({Severity.critical, Severity.major})
    recurrence_threshold: int = 3
    recurrence_window: timedelta = timedelta(days=30)
    # Label values monitoring tools use, mapped to our severities.
    severity_aliases: dict[str, Severity] = field(default_factory=lambda: {
        "critical": Severity.critical, "page": Severity.critical, "fatal": Severity.critical,
        "major": Severity.major, "error": Severity.major, "high": Severity.major,
        "minor": Severity.minor, "warning": Severity.minor, "warn": Severity.minor,
        "medium": Severity.minor, "observation": Severity.observation,
        "info": Severity.observation, "low": Severity.observation, "none": Severity.observation,
    })
    default_monitoring_severity: Severity = Severity.minor

    def severity_from_label(self, value: str | None) -> Severity:
        if not value:
            return self.default_monitoring_severity
        return self.severity_aliases.get(value.strip().lower(), self.default_monitoring_severity)


@dataclass(frozen=True)
class EscalationDecision:
    """``escalate`` asks for a new CAPA; ``link_to`` names an open CAPA to join
    instead; ``wait_for`` names an escalated NC of the same problem whose CAPA
    is asked for but not open yet: this NC joins that CAPA once it opens."""

    escalate: bool = False
    reason: EscalationReason | None = None
    link_to: str | None = None
    wait_for: str | None = None


NO_ESCALATION = EscalationDecision()


def decide_escalation(policy: EscalationPolicy, *, severity: Severity,
                      finding_type: FindingType | None, already_escalated: bool,
                      occurrences_in_window: int, open_capa_of_recurrence: str | None,
                      capa_link: CapaLink = CapaLink.none,
                      requested_capa_of_recurrence: str | None = None) -> EscalationDecision:
    """Critical/major → now; N occurrences in the window → as recurring; a major
    audit finding → now. Never twice for one NC; a recurrence whose CAPA is
    still open joins that CAPA instead of asking for a new one."""
    if already_escalated or capa_link in (CapaLink.requested, CapaLink.open):
        return NO_ESCALATION
    if open_capa_of_recurrence:
        return EscalationDecision(link_to=open_capa_of_recurrence)
    if requested_capa_of_recurrence:
        # A burst of the same problem asks for one CAPA, not one per report.
        return EscalationDecision(wait_for=requested_capa_of_recurrence)
    recurring = occurrences_in_window >= policy.recurrence_threshold
    if finding_type is FindingType.major_nc:
        return EscalationDecision(escalate=True, reason=EscalationReason.audit_finding)
    if severity in policy.escalate_severities:
        return EscalationDecision(escalate=True, reason=EscalationReason.severity)
    if recurring:
        return EscalationDecision(escalate=True, reason=EscalationReason.recurrence)
    return NO_ESCALATION


def triage_outcome(status: NonconformityStatus, decision: TriageDecision) -> NonconformityStatus:
    if status is not NonconformityStatus.reported and status is not NonconformityStatus.accepted:
        raise TransitionRefused(f"A {status} nonconformity cannot be triaged; reopen it first.",
                                allowed=_allowed_moves(status))
    return {TriageDecision.accept: NonconformityStatus.accepted,
            TriageDecision.reject: NonconformityStatus.rejected,
            TriageDecision.duplicate: NonconformityStatus.duplicate}[decision]


def check_can_close(status: NonconformityStatus, capa_link: CapaLink) -> None:
    if status not in OPEN_STATUSES:
        raise TransitionRefused(f"A {status} nonconformity cannot be closed.",
                                allowed=_allowed_moves(status))
    if capa_link in (CapaLink.requested, CapaLink.open):
        raise TransitionRefused("Its CAPA is not closed yet: the nonconformity closes when "
                                "the CAPA is closed after an effective verification.",
                                allowed=_allowed_moves(status, capa_link))


def check_can_reopen(status: NonconformityStatus) -> None:
    if status in OPEN_STATUSES:
        raise TransitionRefused(f"The nonconformity is already {status}.",
                                allowed=_allowed_moves(status))


def check_editable(status: NonconformityStatus) -> None:
    if status not in OPEN_STATUSES:
        raise TransitionRefused(f"A {status} nonconformity cannot be changed; reopen it first.",
                                allowed=_allowed_moves(status))


def _allowed_moves(status: NonconformityStatus,
                   capa_link: CapaLink = CapaLink.none) -> list[str]:
    if status not in OPEN_STATUSES:
        return ["reopen"]
    if capa_link in (CapaLink.requested, CapaLink.open):
        return ["update", "triage", "correction"]
    return ["update", "triage", "correction", "close"]
