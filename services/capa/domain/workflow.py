"""The CAPA state machine, its guards, readable numbers, risk and due dates."""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from shared.errors import Conflict, NotPermitted
from shared.vocabulary import ActionStatus, CapaStatus


class EffectivenessResult(StrEnum):
    effective = "effective"
    not_effective = "not_effective"


# The caller's ``Principal.holds_any``: does it hold one of these roles?
RoleCheck = Callable[[Iterable[str]], bool]

TERMINAL = frozenset({CapaStatus.closed, CapaStatus.cancelled})
OPEN_STATES = tuple(s for s in CapaStatus if s not in TERMINAL)
FINISHED_ACTION = frozenset({ActionStatus.done, ActionStatus.cancelled})

# The forward path, the reopen edge, and cancellation from every open state.
TRANSITIONS: Mapping[CapaStatus, tuple[CapaStatus, ...]] = {
    CapaStatus.open: (CapaStatus.investigating, CapaStatus.cancelled),
    CapaStatus.investigating: (CapaStatus.action_planned, CapaStatus.cancelled),
    CapaStatus.action_planned: (CapaStatus.implementing, CapaStatus.cancelled),
    CapaStatus.implementing: (CapaStatus.verifying, CapaStatus.cancelled),
    CapaStatus.verifying: (CapaStatus.closed, CapaStatus.investigating, CapaStatus.cancelled),
    CapaStatus.closed: (),
    CapaStatus.cancelled: (),
}

# Who may make a move. Closing and cancelling are management decisions.
MANAGER_ONLY = frozenset({CapaStatus.closed, CapaStatus.cancelled})
WORKFLOW_ROLES = ("engineer", "manager")
# A failed effectiveness check is found by the verifier, who may send it back.
REOPEN_ROLES = ("engineer", "verifier", "manager")


class WorkflowError(Conflict):
    """A rule of the CAPA workflow refused a change."""


class TransitionNotAllowed(WorkflowError):
    def __init__(self, current: CapaStatus, to: CapaStatus) -> None:
        self.current, self.to = current, to
        self.allowed = [s.value for s in TRANSITIONS[current]]
        allowed = ", ".join(self.allowed) or "none (the CAPA is finished)"
        super().__init__(f"A CAPA in '{current}' cannot move to '{to}'. Allowed: {allowed}.",
                         title="Transition not allowed", current_status=current.value,
                         allowed=self.allowed)


class GuardFailed(WorkflowError):
    """The move exists but its precondition is not met yet."""

    kind_title = "Precondition not met"


class RoleRequired(NotPermitted):
    """The move needs a role the caller does not hold."""

    def __init__(self, roles: Iterable[str], message: str) -> None:
        self.roles = list(roles)
        super().__init__(message, required_roles=self.roles)


@dataclass(frozen=True)
class CapaFacts:
    """What the guards look at, gathered by the use case."""

    root_cause_submitted: bool = False
    action_count: int = 0  # actions not cancelled
    unfinished_action_count: int = 0
    # Actions planned since the last reopen (None: never reopened). The failed
    # cycle's actions did not work, so a new cycle needs at least one new action.
    actions_this_cycle: int | None = None
    # The latest effectiveness result of the current verification cycle.
    effectiveness: EffectivenessResult | None = None


def allowed_moves(current: CapaStatus) -> list[str]:
    return [s.value for s in TRANSITIONS[current]]


def required_roles(current: CapaStatus, to: CapaStatus) -> tuple[str, ...]:
    if to in MANAGER_ONLY:
        return ("manager",)
    if current is CapaStatus.verifying and to is CapaStatus.investigating:
        return REOPEN_ROLES
    return WORKFLOW_ROLES


def check_transition(current: CapaStatus, to: CapaStatus, *, facts: CapaFacts,
                     holds_any: RoleCheck, reason: str | None) -> None:
    """Raise why ``current -> to`` may not happen now; return if it may."""
    if to not in TRANSITIONS[current]:
        raise TransitionNotAllowed(current, to)
    roles = required_roles(current, to)
    if not holds_any(roles):
        raise RoleRequired(roles, f"Moving a CAPA to '{to}' needs one of the roles: "
                                  f"{', '.join(roles)}.")
    move = _Move(current, to, facts, reason_given=bool(reason and reason.strip()))
    for guard in _GUARDS:
        failure = guard(move)
        if failure:
            raise GuardFailed(failure)


@dataclass(frozen=True)
class _Move:
    current: CapaStatus
    to: CapaStatus
    facts: CapaFacts
    reason_given: bool


# A guard says why a move cannot happen yet (None: it may); they run in this order.
Guard = Callable[[_Move], str | None]


def _cancel_needs_reason(move: _Move) -> str | None:
    if move.to is CapaStatus.cancelled and not move.reason_given:
        return "Cancelling a CAPA needs a reason."
    return None


def _planning_needs_analysis(move: _Move) -> str | None:
    # Only planning needs the analysis: a CAPA may be cancelled mid-investigation.
    if (move.current is CapaStatus.investigating and move.to is CapaStatus.action_planned
            and not move.facts.root_cause_submitted):
        return "Submit the root-cause analysis before planning actions."
    return None


def _implementing_needs_actions(move: _Move) -> str | None:
    if not (move.current is CapaStatus.action_planned and move.to is CapaStatus.implementing):
        return None
    if move.facts.action_count == 0:
        return "Plan at least one action before implementing."
    if move.facts.actions_this_cycle == 0:
        return ("The CAPA was reopened: plan at least one new action for the revised root "
                "cause before implementing.")
    return None


def _verifying_needs_actions_done(move: _Move) -> str | None:
    if move.to is CapaStatus.verifying and (move.facts.action_count == 0
                                            or move.facts.unfinished_action_count > 0):
        return (f"Every action must be done before verifying "
                f"({move.facts.unfinished_action_count} still open).")
    return None


def _closing_needs_effectiveness(move: _Move) -> str | None:
    effective = move.facts.effectiveness is EffectivenessResult.effective
    if move.to is CapaStatus.closed and not effective:
        return "Closing needs an effectiveness verification with the result 'effective'."
    return None


def _reopening_needs_ineffectiveness(move: _Move) -> str | None:
    if not (move.current is CapaStatus.verifying and move.to is CapaStatus.investigating):
        return None
    if move.facts.effectiveness is not EffectivenessResult.not_effective:
        return ("A CAPA goes back to investigating only after an effectiveness verification "
                "found it not effective.")
    if not move.reason_given:
        return "Reopening the investigation needs a reason."
    return None


_GUARDS: tuple[Guard, ...] = (
    _cancel_needs_reason, _planning_needs_analysis, _implementing_needs_actions,
    _verifying_needs_actions_done, _closing_needs_effectiveness,
    _reopening_needs_ineffectiveness)


@dataclass(frozen=True)
class NextStep:
    """A move the state machine offers now, who may make it, and what still blocks it."""

    to: CapaStatus
    roles: tuple[str, ...]
    needs_reason: bool
    needs_lesson: bool
    blocked_by: str | None


def next_steps(current: CapaStatus, facts: CapaFacts) -> list[NextStep]:
    """Every move out of ``current`` with its guard evaluated on ``facts`` (roles and the
    reason the person would type are not judged here), so a form can offer only the
    moves that would succeed and say why the others cannot happen yet."""
    steps = []
    for to in TRANSITIONS[current]:
        try:
            check_transition(current, to, facts=facts, holds_any=lambda _roles: True,
                             reason="(given by the person)")
            blocked = None
        except GuardFailed as exc:
            blocked = str(exc)
        reopening = current is CapaStatus.verifying and to is CapaStatus.investigating
        steps.append(NextStep(to=to, roles=required_roles(current, to),
                              needs_reason=to is CapaStatus.cancelled or reopening,
                              needs_lesson=to is CapaStatus.closed, blocked_by=blocked))
    return steps


def capa_number(year: int, sequence: int) -> str:
    """The readable number people quote, e.g. ``CAPA-2026-00017``."""
    return f"CAPA-{year}-{sequence:05d}"


# Severity on the same 1-5 scale as likelihood, so risk runs from 1 to 25.
SEVERITY_SCORE: Mapping[str, int] = {"critical": 5, "major": 4, "minor": 2, "observation": 1}


def risk_score(severity: str, likelihood: int) -> int:
    """Risk = severity x likelihood (both 1-5)."""
    if not 1 <= likelihood <= 5:
        raise ValueError("likelihood is 1 (rare) to 5 (almost certain)")
    return SEVERITY_SCORE[severity] * likelihood


def due_date_for(severity: str, opened_on: date, due_days: Mapping[str, int]) -> date:
    """The CAPA's due date: the configured number of days for its severity."""
    return opened_on + timedelta(days=due_days[severity])
