"""What a person may do on a CAPA's page now, where the CAPA stands, and whom it waits for.

Pure: the CAPA, its analysis, actions and verifications as the capa API answers
them, the moves from ``GET /v1/capas/{id}/transitions`` and the signed-in
person go in; the page's decisions come out. The template only reads them, so
every rule about which form shows lives here (and in its unit tests), not in
``if``s scattered over the template. A hint only: the API decides every request.
"""

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from shared.auth import Principal
from shared.identity import same_identity
from shared.vocabulary import ActionStatus, CapaStatus

from .choices import CAPA_STATE_LABELS

Record = Mapping[str, Any]

# The path a CAPA walks, in the domain's names (cancelled leaves it anywhere).
STAGES: tuple[str, ...] = (CapaStatus.open, CapaStatus.investigating, CapaStatus.action_planned,
                           CapaStatus.implementing, CapaStatus.verifying, CapaStatus.closed)
OPEN_STATES = STAGES[:-1]
# The capa API's rules, mirrored to hide what it would refuse: who edits the
# analysis, actions and planning; while the analysis may be edited; while
# actions are planned and worked (not before the root cause is known); while
# the effectiveness check may be planned.
WRITERS = ("engineer", "manager")
PLANNERS = ("engineer", "verifier", "manager")
CHECKERS = ("verifier", "manager")
ANALYSIS_STAGES = (CapaStatus.open, CapaStatus.investigating)
ACTION_STAGES = (CapaStatus.action_planned, CapaStatus.implementing)
PLAN_STAGES = (CapaStatus.action_planned, CapaStatus.implementing, CapaStatus.verifying)
FINISHED_ACTIONS = (ActionStatus.done, ActionStatus.cancelled)


@dataclass(frozen=True)
class Step:
    status: str
    label: str
    state: str  # "complete", "current", "upcoming"


@dataclass(frozen=True)
class Allowed:
    """Which forms and buttons the page shows this person now."""

    moves: list[str] = field(default_factory=list)
    blocked: list[tuple[str, str]] = field(default_factory=list)
    root_cause: bool = False  # the 5-Whys editor
    revise: bool = False  # "Revise" on a submitted analysis
    add_action: bool = False
    update_action: bool = False
    edit: bool = False
    plan: bool = False
    verify: bool = False
    # Why the verification form is not shown to a checker (independence, no plan).
    verify_refused: str | None = None
    check_not_due: str | None = None  # the plan's check date while it is ahead
    override_early: bool = False
    action_evidence: bool = False
    verification_evidence: bool = False


def stepper(capa: Record, cancelled_from: str | None = None) -> list[Step]:
    """The stages with the current one and those done marked. A cancelled CAPA shows
    the stages it had reached (``cancelled_from``, from its trail) and then
    "Cancelled" as its current, last step."""
    status = capa["status"]
    if status == CapaStatus.cancelled:
        reached = STAGES.index(cancelled_from) if cancelled_from in STAGES else -1
        return [Step(s, CAPA_STATE_LABELS[s], "complete") for s in STAGES[:reached + 1]] + [
            Step(CapaStatus.cancelled, CAPA_STATE_LABELS[CapaStatus.cancelled], "current")]
    at = STAGES.index(status)
    # A closed CAPA stands at its last stage: "Closed" is current, all before complete.
    return [Step(s, CAPA_STATE_LABELS[s],
                 "complete" if i < at else "current" if i == at else "upcoming")
            for i, s in enumerate(STAGES)]


def this_cycle(capa: Record, verifications: Iterable[Record]) -> list[Record]:
    """Verifications of the current cycle (a reopen starts a new one)."""
    return [v for v in verifications if v.get("cycle") == capa.get("reopen_count", 0)]


def allowed(person: Principal, capa: Record, options: Sequence[Record], analysis: Record,
            verifications: Sequence[Record], *, today: date, revising: bool = False,
            former_owners: Iterable[str] = ()) -> Allowed:
    """What ``person`` may do on ``capa`` now. ``revising``: they asked to revise the
    submitted analysis; ``former_owners``: who owned the CAPA since it last entered
    implementing (the capa service refuses their verification, as the owner's)."""
    status = capa["status"]
    writer = person.holds_any(WRITERS)
    checker = person.holds_any(CHECKERS)
    submitted = analysis.get("status") == "submitted"
    may_edit_analysis = writer and status in ANALYSIS_STAGES
    plan = capa.get("effectiveness_plan") or None
    checked = this_cycle(capa, verifications)
    check_date = str(plan["check_date"]) if plan else ""
    not_due = check_date if check_date > today.isoformat() else None
    verify, refused = False, None
    if checker and status == CapaStatus.verifying and not checked:
        owners = [capa.get("owner"), *former_owners]
        if any(same_identity(o, person.subject) for o in owners if o):
            refused = ("You own this CAPA or owned it while it was carried out: another "
                       "verifier or manager must verify its effectiveness.")
        elif not plan:
            refused = "Plan the effectiveness check (criteria and date) before verifying."
        elif not_due and not person.holds_any(("manager",)):
            # The capa API refuses it before the check date without a manager's reason.
            refused = (f"The effectiveness check is planned for {not_due}; the verification "
                       "can be recorded from then (a manager may record it earlier with a "
                       "reason).")
        else:
            verify = True
    is_open = status in OPEN_STATES
    return Allowed(
        moves=[o["to"] for o in options if o["you_may"] and o["ready"]],
        blocked=[(o["to"], o["blocked_by"]) for o in options
                 if o["you_may"] and not o["ready"]],
        root_cause=may_edit_analysis and (not submitted or revising),
        revise=may_edit_analysis and submitted and not revising,
        add_action=writer and status in ACTION_STAGES,
        update_action=writer and status in ACTION_STAGES,
        edit=writer and is_open,
        # The plan a verification was judged against is frozen (capa API: 409).
        plan=person.holds_any(PLANNERS) and status in PLAN_STAGES and not checked,
        verify=verify, verify_refused=refused, check_not_due=not_due,
        override_early=person.holds_any(("manager",)),
        action_evidence=writer and is_open,
        verification_evidence=checker and is_open)


def _who(roles: Sequence[str]) -> str:
    """'a manager', 'an engineer or a manager' from a move's roles."""
    named = [f"{'an' if r[0] in 'aeiou' else 'a'} {r}" for r in roles]
    return " or ".join(named) or "someone"


def _actions(n: int) -> str:
    return f"{n} action{'s' if n != 1 else ''}"


def _roles_of(options: Sequence[Record], to: str, default: Sequence[str]) -> Sequence[str]:
    return next((o["roles"] for o in options if o["to"] == to), default)


def waiting_for(capa: Record, options: Sequence[Record], analysis: Record,
                actions: Sequence[Record], verifications: Sequence[Record], *,
                today: date) -> str:
    """One sentence: who the CAPA waits for now, and for what."""
    status = capa["status"]
    owner = capa.get("owner") or None
    if status == CapaStatus.closed:
        return "Nothing: this CAPA is closed."
    if status == CapaStatus.cancelled:
        return "Nothing: this CAPA was cancelled."
    if status == CapaStatus.open:
        return f"Waiting for {owner or 'an engineer'} to start the investigation."
    if status == CapaStatus.investigating:
        if analysis.get("status") != "submitted":
            return f"Waiting for {owner or 'an engineer'} to submit the root-cause analysis."
        who = _who(_roles_of(options, CapaStatus.action_planned, WRITERS))
        return f"Waiting for {who} to approve the root-cause analysis."
    active = [a for a in actions if a.get("status") != ActionStatus.cancelled]
    if status == CapaStatus.action_planned:
        if not active:
            return f"Waiting for {owner or 'an engineer'} to plan the actions."
        who = _who(_roles_of(options, CapaStatus.implementing, WRITERS))
        return f"Waiting for {who} to start implementing the planned actions."
    if status == CapaStatus.implementing:
        open_by = Counter(a.get("owner") or "someone" for a in active
                          if a.get("status") not in FINISHED_ACTIONS)
        if open_by:
            people = [f"{name} to finish {_actions(n)}" for name, n in open_by.items()]
            return "Waiting for " + _and(people) + "."
        who = _who(_roles_of(options, CapaStatus.verifying, WRITERS))
        return f"Waiting for {who} to start the effectiveness check."
    return _waiting_in_verification(capa, verifications, today=today)


def _waiting_in_verification(capa: Record, verifications: Sequence[Record], *,
                             today: date) -> str:
    plan = capa.get("effectiveness_plan") or None
    if not plan:
        return "Waiting for an effectiveness check to be planned (criteria and date)."
    checked = this_cycle(capa, verifications)
    if not checked:
        check_date = str(plan["check_date"])
        if check_date > today.isoformat():
            return f"Waiting for the effectiveness check on {check_date}."
        return (f"Waiting for a verifier to record the effectiveness check "
                f"(due since {check_date}).")
    latest = max(checked, key=lambda v: str(v.get("verified_at") or ""))
    if latest.get("result") == "effective":
        return "Waiting for a manager to close the CAPA."
    return ("Waiting for the investigation to be reopened: the effectiveness check found "
            "the CAPA not effective.")


def _and(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def cancelled_from(trail: Iterable[Record]) -> str | None:
    """The stage a cancelled CAPA was in when it was cancelled, from its trail."""
    for entry in trail:
        after, before = entry.get("after") or {}, entry.get("before") or {}
        if entry.get("action") == "status_changed" and after.get("status") == CapaStatus.cancelled:
            return str(before.get("status") or "") or None
    return None


def owners_since_implementing(trail: Sequence[Record]) -> set[str]:
    """Who owned the CAPA since it last entered implementing, as its trail says (the
    capa service judges a verifier's independence by the same entries)."""
    start = 0
    for index, entry in enumerate(trail):
        if entry.get("action") == "status_changed" and \
                (entry.get("after") or {}).get("status") == CapaStatus.implementing:
            start = index
    owners: set[str] = set()
    for entry in trail[start:]:
        if entry.get("action") == "updated":
            for side in (entry.get("before") or {}, entry.get("after") or {}):
                if side.get("owner"):
                    owners.add(str(side["owner"]))
    return owners
