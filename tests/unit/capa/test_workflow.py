"""The CAPA state machine: every state x every target, every guard, every role rule."""

from collections.abc import Iterable
from datetime import date

import pytest

from services.capa.domain import CapaStatus, capa_number, due_date_for, risk_score
from services.capa.domain.workflow import (
    TRANSITIONS,
    CapaFacts,
    EffectivenessResult,
    GuardFailed,
    RoleRequired,
    TransitionNotAllowed,
    allowed_moves,
    check_transition,
    next_steps,
)

S = CapaStatus
ALLOWED = {
    (S.open, S.investigating), (S.open, S.cancelled),
    (S.investigating, S.action_planned), (S.investigating, S.cancelled),
    (S.action_planned, S.implementing), (S.action_planned, S.cancelled),
    (S.implementing, S.verifying), (S.implementing, S.cancelled),
    (S.verifying, S.closed), (S.verifying, S.investigating), (S.verifying, S.cancelled),
}
# Facts under which every guard of every allowed move passes (except reopening,
# which needs a failed check instead of a passed one).
READY = CapaFacts(root_cause_submitted=True, action_count=2, unfinished_action_count=0,
                  effectiveness=EffectivenessResult.effective)
FAILED_CHECK = CapaFacts(root_cause_submitted=True, action_count=2,
                         effectiveness=EffectivenessResult.not_effective)


def roles(*held: str):  # type: ignore[no-untyped-def]
    def holds_any(wanted: Iterable[str]) -> bool:
        return bool(set(held) & set(wanted))
    return holds_any


MANAGER = roles("manager")


@pytest.mark.parametrize("current", list(S))
@pytest.mark.parametrize("target", list(S))
@pytest.mark.requirement("part11-11.10f")
def test_every_state_times_every_target(current: CapaStatus, target: CapaStatus) -> None:
    facts = FAILED_CHECK if (current, target) == (S.verifying, S.investigating) else READY
    if (current, target) in ALLOWED:
        check_transition(current, target, facts=facts, holds_any=MANAGER, reason="because")
        assert target.value in allowed_moves(current)
    else:
        with pytest.raises(TransitionNotAllowed) as refused:
            check_transition(current, target, facts=facts, holds_any=MANAGER, reason="x")
        assert refused.value.allowed == allowed_moves(current)
        assert set(refused.value.allowed) == {t for c, t in ALLOWED if c == current}


def test_the_table_is_the_documented_one() -> None:
    assert {(c, t) for c, targets in TRANSITIONS.items() for t in targets} == ALLOWED
    assert allowed_moves(S.closed) == allowed_moves(S.cancelled) == []


@pytest.mark.parametrize(("current", "target", "facts", "message"), [
    (S.investigating, S.action_planned, CapaFacts(), "root-cause"),
    (S.action_planned, S.implementing, CapaFacts(root_cause_submitted=True), "one action"),
    (S.implementing, S.verifying, CapaFacts(action_count=2, unfinished_action_count=1),
     "1 still open"),
    (S.implementing, S.verifying, CapaFacts(action_count=0), "Every action"),
    (S.verifying, S.closed, CapaFacts(action_count=1), "effective"),
    (S.verifying, S.closed, FAILED_CHECK, "effective"),
    (S.verifying, S.investigating, READY, "not effective"),
    (S.verifying, S.investigating, CapaFacts(), "not effective"),
])
@pytest.mark.requirement("part11-11.10f", "iso9001-10.2.1c")
def test_guards(current: CapaStatus, target: CapaStatus, facts: CapaFacts,
                message: str) -> None:
    with pytest.raises(GuardFailed, match=message):
        check_transition(current, target, facts=facts, holds_any=MANAGER, reason="r")


@pytest.mark.parametrize("current", [S.open, S.investigating, S.action_planned,
                                     S.implementing, S.verifying])
def test_cancelling_needs_a_manager_and_a_reason(current: CapaStatus) -> None:
    with pytest.raises(RoleRequired):
        check_transition(current, S.cancelled, facts=READY, holds_any=roles("engineer"),
                         reason="duplicate")
    for blank in (None, "", "   "):
        with pytest.raises(GuardFailed, match="reason"):
            check_transition(current, S.cancelled, facts=READY, holds_any=MANAGER,
                             reason=blank)
    check_transition(current, S.cancelled, facts=READY, holds_any=MANAGER, reason="dup")


@pytest.mark.parametrize("current", [S.open, S.investigating, S.action_planned,
                                     S.implementing, S.verifying])
def test_a_capa_can_be_cancelled_whatever_its_work_so_far(current: CapaStatus) -> None:
    # No analysis, no action, no verification: cancelling asks only for a reason.
    check_transition(current, S.cancelled, facts=CapaFacts(), holds_any=MANAGER,
                     reason="Raised in error")


def test_next_steps_say_who_may_move_and_what_still_blocks() -> None:
    fresh = {step.to: step for step in next_steps(S.investigating, CapaFacts())}
    assert set(fresh) == {S.action_planned, S.cancelled}
    assert fresh[S.action_planned].blocked_by is not None
    assert "root-cause" in fresh[S.action_planned].blocked_by
    assert fresh[S.action_planned].roles == ("engineer", "manager")
    assert fresh[S.cancelled].blocked_by is None and fresh[S.cancelled].needs_reason
    assert fresh[S.cancelled].roles == ("manager",)

    effective = {step.to: step for step in next_steps(S.verifying, READY)}
    assert effective[S.closed].blocked_by is None and effective[S.closed].needs_lesson
    assert "not effective" in (effective[S.investigating].blocked_by or "")
    failed = {step.to: step for step in next_steps(S.verifying, FAILED_CHECK)}
    assert failed[S.investigating].blocked_by is None and failed[S.investigating].needs_reason
    assert "verifier" in failed[S.investigating].roles
    assert "effective" in (failed[S.closed].blocked_by or "")
    assert next_steps(S.closed, READY) == []


@pytest.mark.requirement("part11-11.10g")
def test_closing_needs_the_manager_role() -> None:
    for held in ("engineer", "verifier", "reporter"):
        with pytest.raises(RoleRequired):
            check_transition(S.verifying, S.closed, facts=READY, holds_any=roles(held),
                             reason=None)
    check_transition(S.verifying, S.closed, facts=READY, holds_any=MANAGER, reason=None)


@pytest.mark.requirement("part11-11.10g")
def test_workflow_moves_need_engineer_or_manager_and_reopen_admits_verifiers() -> None:
    with pytest.raises(RoleRequired):
        check_transition(S.open, S.investigating, facts=READY, holds_any=roles("verifier"),
                         reason=None)
    check_transition(S.open, S.investigating, facts=READY, holds_any=roles("engineer"),
                     reason=None)
    check_transition(S.verifying, S.investigating, facts=FAILED_CHECK,
                     holds_any=roles("verifier"), reason="leaks again")
    with pytest.raises(GuardFailed, match="reason"):
        check_transition(S.verifying, S.investigating, facts=FAILED_CHECK,
                         holds_any=roles("verifier"), reason=None)
    with pytest.raises(RoleRequired):
        check_transition(S.verifying, S.investigating, facts=FAILED_CHECK,
                         holds_any=roles("reporter"), reason="x")


@pytest.mark.requirement("iso13485-8.5.2-timely", "iso9001-10.2.1e")
def test_readable_number_risk_and_due_date() -> None:
    assert capa_number(2026, 17) == "CAPA-2026-00017"
    assert risk_score("critical", 5) == 25
    assert risk_score("major", 3) == 12
    assert risk_score("observation", 1) == 1
    for bad in (0, 6):
        with pytest.raises(ValueError):
            risk_score("minor", bad)
    days = {"critical": 30, "major": 60, "minor": 90, "observation": 120}
    assert due_date_for("critical", date(2026, 11, 26), days) == date(2026, 12, 26)
    assert due_date_for("minor", date(2026, 11, 26), days | {"minor": 7}) == date(2026, 12, 3)


def test_a_reopened_cycle_needs_a_new_action_before_implementing() -> None:
    from dataclasses import replace

    reopened = replace(READY, actions_this_cycle=0)
    with pytest.raises(GuardFailed, match="new action"):
        check_transition(S.action_planned, S.implementing, facts=reopened,
                         holds_any=MANAGER, reason=None)
    check_transition(S.action_planned, S.implementing, facts=replace(READY, actions_this_cycle=1),
                     holds_any=MANAGER, reason=None)
