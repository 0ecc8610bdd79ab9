"""The guided CAPA page's decisions (pages/capa_guide.py): the stepper, which forms a
person sees in each stage, and whom the CAPA waits for."""

from datetime import date
from typing import Any

import pytest

from services.web.pages import capa_guide as guide
from shared.auth import Principal

TODAY = date(2026, 12, 7)
ENGINEER = Principal(subject="erin", roles=frozenset({"engineer"}))
VERIFIER = Principal(subject="vera", roles=frozenset({"verifier"}))
MANAGER = Principal(subject="max", roles=frozenset({"manager"}))
REPORTER = Principal(subject="rita", roles=frozenset({"reporter"}))


def capa(status: str, **extra: Any) -> dict[str, Any]:
    return {"status": status, "owner": "erin", "reopen_count": 0,
            "effectiveness_plan": None} | extra


def option(to: str, roles: list[str], person: Principal, blocked: str | None = None
           ) -> dict[str, Any]:
    return {"to": to, "roles": roles, "you_may": person.holds_any(roles),
            "ready": blocked is None, "blocked_by": blocked}


def may(person: Principal, item: dict[str, Any], *, analysis: str = "draft",
        verifications: list[dict[str, Any]] | None = None, options: list[dict[str, Any]]
        | None = None, **kw: Any) -> guide.Allowed:
    return guide.allowed(person, item, options or [], {"status": analysis},
                         verifications or [], today=TODAY, **kw)


def test_the_stepper_marks_the_stages_done_and_the_current_one() -> None:
    steps = guide.stepper(capa("implementing"))
    assert [s.status for s in steps] == ["open", "investigating", "action_planned",
                                         "implementing", "verifying", "closed"]
    assert [s.state for s in steps] == ["complete"] * 3 + ["current", "upcoming", "upcoming"]
    assert [s.state for s in guide.stepper(capa("closed"))] == ["complete"] * 5 + ["current"]
    assert steps[2].label == "Actions planned"


def test_a_cancelled_capa_shows_the_stages_it_reached_then_cancelled() -> None:
    trail = [{"action": "status_changed", "before": {"status": "open"},
              "after": {"status": "investigating"}},
             {"action": "status_changed", "before": {"status": "investigating"},
              "after": {"status": "cancelled"}, "reason": "duplicate"}]
    steps = guide.stepper(capa("cancelled"), guide.cancelled_from(trail))
    assert [(s.status, s.state) for s in steps] == [
        ("open", "complete"), ("investigating", "complete"), ("cancelled", "current")]
    assert [s.state for s in guide.stepper(capa("cancelled"))] == ["current"]


def test_while_the_root_cause_is_open_no_actions_and_no_effectiveness_forms() -> None:
    for status in ("open", "investigating"):
        can = may(ENGINEER, capa(status))
        assert can.root_cause and not can.revise
        assert not (can.add_action or can.update_action or can.plan or can.verify)
    planned = may(ENGINEER, capa("action_planned"))
    assert planned.add_action and planned.plan and not planned.root_cause
    assert not may(REPORTER, capa("investigating")).root_cause


def test_a_submitted_analysis_is_read_only_with_revise_while_it_may_be_edited() -> None:
    submitted = may(ENGINEER, capa("investigating"), analysis="submitted")
    assert not submitted.root_cause and submitted.revise
    revising = may(ENGINEER, capa("investigating"), analysis="submitted", revising=True)
    assert revising.root_cause and not revising.revise
    # After approval (actions planned) the workflow allows no revision: no button.
    later = may(ENGINEER, capa("action_planned"), analysis="submitted", revising=True)
    assert not later.root_cause and not later.revise
    assert not may(VERIFIER, capa("investigating"), analysis="submitted").revise


def test_the_owner_and_former_owners_get_no_verification_form() -> None:
    plan = {"criteria": "0 leaks", "check_date": "2026-12-01"}
    verifying = capa("verifying", owner="Vera", effectiveness_plan=plan)
    own = may(VERIFIER, verifying)
    assert not own.verify and own.verify_refused and "another" in own.verify_refused
    handed_over = may(VERIFIER, capa("verifying", owner="otto", effectiveness_plan=plan),
                      former_owners={"vera"})
    assert not handed_over.verify
    other = may(VERIFIER, capa("verifying", owner="otto", effectiveness_plan=plan))
    assert other.verify and other.verify_refused is None
    assert not may(ENGINEER, capa("verifying", owner="otto", effectiveness_plan=plan)).verify


def test_verification_needs_a_plan_and_happens_once_per_cycle() -> None:
    no_plan = may(VERIFIER, capa("verifying", owner="otto"))
    assert not no_plan.verify and "Plan the effectiveness check" in (no_plan.verify_refused
                                                                     or "")
    plan = {"criteria": "0 leaks", "check_date": "2026-12-01"}
    done = [{"cycle": 0, "result": "effective", "verified_at": "2026-12-02T10:00:00Z"}]
    checked = may(VERIFIER, capa("verifying", owner="otto", effectiveness_plan=plan),
                  verifications=done)
    assert not checked.verify and not checked.plan  # the plan is frozen now
    reopened = capa("verifying", owner="otto", effectiveness_plan=plan, reopen_count=1)
    assert may(VERIFIER, reopened, verifications=done).verify  # a new cycle


def test_an_early_check_is_flagged_and_only_managers_may_override() -> None:
    ahead = capa("verifying", owner="otto",
                 effectiveness_plan={"criteria": "0 leaks", "check_date": "2027-01-15"})
    manager = may(MANAGER, ahead)
    assert manager.verify and manager.check_not_due == "2027-01-15" and manager.override_early
    # A form the API would refuse anyway is not offered: the verifier reads when it can be.
    verifier = may(VERIFIER, ahead)
    assert not verifier.verify and not verifier.override_early
    assert verifier.verify_refused == (
        "The effectiveness check is planned for 2027-01-15; the verification can be "
        "recorded from then (a manager may record it earlier with a reason).")
    due = capa("verifying", owner="otto",
               effectiveness_plan={"criteria": "0 leaks", "check_date": TODAY.isoformat()})
    assert may(MANAGER, due).check_not_due is None


def test_moves_come_from_the_transitions_endpoint() -> None:
    options = [option("closed", ["manager"], MANAGER,
                      blocked="Closing needs an effectiveness verification."),
               option("cancelled", ["manager"], MANAGER)]
    can = may(MANAGER, capa("verifying"), options=options)
    assert can.moves == ["cancelled"]
    assert can.blocked == [("closed", "Closing needs an effectiveness verification.")]
    engineer = may(ENGINEER, capa("verifying"),
                   options=[option("closed", ["manager"], ENGINEER)])
    assert engineer.moves == [] and engineer.blocked == []


@pytest.mark.parametrize(("status", "analysis", "actions", "expected"), [
    ("open", "draft", [], "Waiting for erin to start the investigation."),
    ("investigating", "draft", [], "Waiting for erin to submit the root-cause analysis."),
    ("investigating", "submitted", [],
     "Waiting for an engineer or a manager to approve the root-cause analysis."),
    ("action_planned", "submitted", [], "Waiting for erin to plan the actions."),
    ("action_planned", "submitted", [{"owner": "erin", "status": "planned"}],
     "Waiting for an engineer or a manager to start implementing the planned actions."),
    ("implementing", "submitted",
     [{"owner": "Erin", "status": "planned"}, {"owner": "Erin", "status": "in_progress"},
      {"owner": "bob", "status": "done"}, {"owner": "bob", "status": "cancelled"}],
     "Waiting for Erin to finish 2 actions."),
    ("implementing", "submitted",
     [{"owner": "erin", "status": "planned"}, {"owner": "bob", "status": "planned"}],
     "Waiting for erin to finish 1 action and bob to finish 1 action."),
    ("implementing", "submitted", [{"owner": "erin", "status": "done"}],
     "Waiting for an engineer or a manager to start the effectiveness check."),
    ("closed", "submitted", [], "Nothing: this CAPA is closed."),
    ("cancelled", "draft", [], "Nothing: this CAPA was cancelled."),
])
def test_waiting_for_names_who_and_what(status: str, analysis: str,
                                        actions: list[dict[str, Any]], expected: str) -> None:
    assert guide.waiting_for(capa(status), [], {"status": analysis}, actions, [],
                             today=TODAY) == expected


def test_waiting_for_uses_the_roles_the_workflow_names() -> None:
    options = [option("action_planned", ["manager"], MANAGER)]
    assert guide.waiting_for(capa("investigating"), options, {"status": "submitted"}, [], [],
                             today=TODAY) == ("Waiting for a manager to approve the "
                                              "root-cause analysis.")


def test_waiting_in_verification_follows_the_plan_and_the_result() -> None:
    def wait(item: dict[str, Any], checks: list[dict[str, Any]] | None = None) -> str:
        return guide.waiting_for(item, [], {"status": "submitted"}, [], checks or [],
                                 today=TODAY)

    assert "to be planned" in wait(capa("verifying"))
    ahead = capa("verifying", effectiveness_plan={"criteria": "x", "check_date": "2027-01-15"})
    assert wait(ahead) == "Waiting for the effectiveness check on 2027-01-15."
    due = capa("verifying", effectiveness_plan={"criteria": "x", "check_date": "2026-12-01"})
    assert wait(due) == ("Waiting for a verifier to record the effectiveness check "
                         "(due since 2026-12-01).")
    effective = [{"cycle": 0, "result": "effective", "verified_at": "2026-12-02T00:00:00Z"}]
    assert wait(due, effective) == "Waiting for a manager to close the CAPA."
    failed = [{"cycle": 0, "result": "not_effective", "verified_at": "2026-12-02T00:00:00Z"}]
    assert "reopened" in wait(due, failed)
    # A result of an earlier cycle does not count after a reopen.
    assert wait(due | {"reopen_count": 1}, effective).startswith("Waiting for a verifier")


def test_owners_since_implementing_reads_the_trail_from_the_last_implementing() -> None:
    trail = [{"action": "updated", "before": {"owner": "ann"}, "after": {"owner": "bob"}},
             {"action": "status_changed", "before": {"status": "action_planned"},
              "after": {"status": "implementing"}},
             {"action": "updated", "before": {"owner": "bob"}, "after": {"owner": "cy"}}]
    assert guide.owners_since_implementing(trail) == {"bob", "cy"}
    assert guide.owners_since_implementing(trail[:1]) == {"ann", "bob"}
