"""The escalation policy: when a nonconformity asks for a CAPA (ISO 9001 10.2).

A critical or major NC, a major audit finding, or a problem seen often enough
in the policy's window escalates; a recurrence of a problem whose CAPA is open
or asked for joins that CAPA instead. Recurrence lookups are in recurrence.py.
"""

from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Generic, TypeVar

from shared.events.base import Severity

from .nonconformity import CapaLink, FindingType, ProblemRecord

R = TypeVar("R", bound=ProblemRecord)


class EscalationReason(StrEnum):
    severity = "severity"
    recurrence = "recurrence"
    audit_finding = "audit_finding"


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


@dataclass(frozen=True)
class Verdict(Generic[R]):
    """The decision for one NC, what it was based on, and the NC whose open
    CAPA it joins (``open_other``), for the service to record."""

    decision: EscalationDecision
    seen: int
    open_other: R | None


def decide(policy: EscalationPolicy, nc: ProblemRecord, *, seen: int,
           other: R | None) -> Verdict[R]:
    """The policy's decision for ``nc``, seen ``seen`` times in the window, given
    the earlier NC of its problem with a CAPA (recurrence.pick_capa_to_join's)."""
    open_other = other if other is not None and other.capa_link == CapaLink.open else None
    decision = decide_escalation(
        policy, severity=nc.severity,
        finding_type=FindingType(nc.finding_type) if nc.finding_type else None,
        already_escalated=nc.escalated_at is not None, occurrences_in_window=seen,
        open_capa_of_recurrence=str(open_other.capa_id) if open_other else None,
        requested_capa_of_recurrence=str(other.id) if other and not open_other else None,
        capa_link=nc.capa_link)
    return Verdict(decision, seen, open_other)
