from datetime import timedelta

import pytest

from services.nonconformity.domain import (
    CLAUSE_PATTERN,
    CapaLink,
    EscalationPolicy,
    EscalationReason,
    FindingType,
    NonconformityStatus,
    TransitionRefused,
    TriageDecision,
    check_can_close,
    check_can_reopen,
    decide_escalation,
    triage_outcome,
)
from shared.events.base import Severity

POLICY = EscalationPolicy(recurrence_threshold=3, recurrence_window=timedelta(days=30))


def decide(severity: Severity = Severity.minor, *, finding: FindingType | None = None,
           escalated: bool = False, seen: int = 1, open_capa: str | None = None,
           link: CapaLink = CapaLink.none):
    return decide_escalation(POLICY, severity=severity, finding_type=finding,
                             already_escalated=escalated, occurrences_in_window=seen,
                             open_capa_of_recurrence=open_capa, capa_link=link)


@pytest.mark.parametrize("severity", [Severity.critical, Severity.major])
@pytest.mark.requirement("iso9001-10.2.1b", "iso13485-8.5.2c")
def test_serious_severity_escalates_at_once(severity: Severity) -> None:
    decision = decide(severity)
    assert decision.escalate and decision.reason is EscalationReason.severity


@pytest.mark.parametrize("severity", [Severity.minor, Severity.observation])
def test_minor_first_occurrence_does_not_escalate(severity: Severity) -> None:
    assert not decide(severity).escalate


@pytest.mark.requirement("iso9001-10.2.1b", "iso13485-8.5.2c", "cfr820-100a1")
def test_recurrence_escalates_at_the_threshold_not_before() -> None:
    assert not decide(seen=2).escalate
    decision = decide(seen=3)
    assert decision.escalate and decision.reason is EscalationReason.recurrence


@pytest.mark.requirement("iso13485-8.5.2c")
def test_major_audit_finding_escalates_minor_does_not() -> None:
    assert decide(Severity.major, finding=FindingType.major_nc).reason is \
        EscalationReason.audit_finding
    assert not decide(Severity.minor, finding=FindingType.minor_nc).escalate


def test_never_twice_for_one_nc() -> None:
    assert not decide(Severity.critical, escalated=True).escalate
    assert not decide(Severity.critical, link=CapaLink.requested).escalate
    assert not decide(Severity.critical, seen=9, link=CapaLink.open).escalate


@pytest.mark.requirement("iso9001-10.2.1b")
def test_recurrence_with_an_open_capa_joins_it_instead_of_a_new_one() -> None:
    decision = decide(Severity.critical, seen=4, open_capa="capa-1")
    assert not decision.escalate and decision.link_to == "capa-1"


def test_a_closed_capa_does_not_stop_a_new_escalation() -> None:
    assert decide(seen=3, link=CapaLink.closed).escalate


def test_custom_policy_threshold_and_severities() -> None:
    strict = EscalationPolicy(escalate_severities=frozenset({Severity.critical}),
                              recurrence_threshold=2)
    assert not decide_escalation(strict, severity=Severity.major, finding_type=None,
                                 already_escalated=False, occurrences_in_window=1,
                                 open_capa_of_recurrence=None).escalate
    assert decide_escalation(strict, severity=Severity.minor, finding_type=None,
                             already_escalated=False, occurrences_in_window=2,
                             open_capa_of_recurrence=None).escalate


@pytest.mark.parametrize(("label", "severity"), [
    ("critical", Severity.critical), ("page", Severity.critical), ("error", Severity.major),
    ("WARNING", Severity.minor), ("info", Severity.observation), (None, Severity.minor),
    ("something-else", Severity.minor)])
def test_monitoring_severity_labels(label: str | None, severity: Severity) -> None:
    assert POLICY.severity_from_label(label) is severity


@pytest.mark.parametrize("clause", ["8.5.1", "10.2", "4", "7.1.5.1"])
def test_clause_format_accepted(clause: str) -> None:
    assert CLAUSE_PATTERN.match(clause)


@pytest.mark.parametrize("clause", ["8.", "3.1", "11.2", "8.5.1.2.3", "eight", "8,5"])
def test_clause_format_refused(clause: str) -> None:
    assert not CLAUSE_PATTERN.match(clause)


@pytest.mark.requirement("iso13485-8.5.2a", "part11-11.10f")
def test_triage_moves() -> None:
    assert triage_outcome(NonconformityStatus.reported, TriageDecision.accept) is \
        NonconformityStatus.accepted
    assert triage_outcome(NonconformityStatus.accepted, TriageDecision.duplicate) is \
        NonconformityStatus.duplicate
    with pytest.raises(TransitionRefused) as refused:
        triage_outcome(NonconformityStatus.closed, TriageDecision.accept)
    assert refused.value.allowed == ["reopen"]


@pytest.mark.requirement("part11-11.10f")
def test_close_waits_for_the_capa() -> None:
    check_can_close(NonconformityStatus.accepted, CapaLink.none)
    check_can_close(NonconformityStatus.reported, CapaLink.closed)
    for link in (CapaLink.requested, CapaLink.open):
        with pytest.raises(TransitionRefused, match="CAPA"):
            check_can_close(NonconformityStatus.accepted, link)
    with pytest.raises(TransitionRefused):
        check_can_close(NonconformityStatus.rejected, CapaLink.none)


def test_reopen_only_what_is_not_open() -> None:
    check_can_reopen(NonconformityStatus.closed)
    check_can_reopen(NonconformityStatus.rejected)
    with pytest.raises(TransitionRefused):
        check_can_reopen(NonconformityStatus.accepted)


def test_recurrence_while_a_capa_is_being_opened_waits_for_it() -> None:
    decision = decide_escalation(POLICY, severity=Severity.critical, finding_type=None,
                                 already_escalated=False, occurrences_in_window=5,
                                 open_capa_of_recurrence=None,
                                 requested_capa_of_recurrence="nc-escalated")
    assert not decision.escalate and decision.wait_for == "nc-escalated"
    assert decide_escalation(POLICY, severity=Severity.minor, finding_type=None,
                             already_escalated=False, occurrences_in_window=5,
                             open_capa_of_recurrence="capa-1",
                             requested_capa_of_recurrence="nc-x").link_to == "capa-1"
