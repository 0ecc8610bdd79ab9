"""Dates the CAPA keeps: when effectiveness may be verified, and reminders before due dates.

Every date here is a calendar day in UTC: the service stores due dates and
check dates as plain dates and compares them with the UTC day of its clock,
as the overdue check does, so "today" is the same for every replica and for
the person whatever zone their browser is in. A clock given in another zone
is converted first (``09:00+14:00`` on 2 December is still 1 December in UTC).
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from shared.errors import Conflict, Invalid, NotPermitted

# An override of the planned check date is a manager's decision.
OVERRIDE_ROLES = ("manager",)


class ReminderKind(StrEnum):
    """What a reminder is about; with the record and its due date, its once-only key."""

    action_due = "action_due"
    capa_due = "capa_due"
    effectiveness_due = "effectiveness_due"
    # A SCAR the supplier has still to answer (service.scar_schedule).
    scar_due = "scar_due"
    # A withdrawn SCAR's e-mail to its supplier (service.scar_notices): once per SCAR.
    scar_withdrawn = "scar_withdrawn"


def utc_day(now: datetime) -> date:
    """The UTC calendar day of an aware clock reading."""
    if now.tzinfo is None:
        raise ValueError("the clock must be time-zone aware")
    return now.astimezone(UTC).date()


def due_soon(due: date, today: date, days: int) -> bool:
    """Due within ``days`` days from today, today included, and not yet overdue.

    Once the day has passed the overdue notice speaks instead.
    """
    return today <= due <= today + timedelta(days=days)


def check_has_come(check_date: date, today: date) -> bool:
    """The planned effectiveness check may be (and should be) done from its day on."""
    return check_date <= today


def reminder_window(today: date, days: int) -> tuple[date, date]:
    """The due dates :func:`due_soon` accepts, for a query: ``[first, last]``."""
    return today, today + timedelta(days=days)


@dataclass(frozen=True)
class EarlyOverride:
    """Who allowed an effectiveness verification before its planned check date, and why."""

    by: str
    reason: str


def check_verification_date(*, check_date: date, today: date, override_reason: str | None,
                            by: str, is_manager: bool) -> EarlyOverride | None:
    """Refuse a verification before the plan's check date unless a manager overrides.

    Returns the override to record (None: on or after the check date, no
    override asked for). Effectiveness shows only after the actions had time
    to work; verifying early is allowed, but as a recorded decision.
    """
    reason = override_reason.strip() if override_reason is not None else None
    if override_reason is not None and not reason:
        raise Invalid("An override needs a reason.",
                      [("override_reason", "Say why the check cannot wait.")])
    if reason is not None and not is_manager:
        raise NotPermitted("Only a manager may override the planned effectiveness check date.",
                           required_roles=list(OVERRIDE_ROLES))
    if check_has_come(check_date, today):
        if reason is not None:
            raise Invalid(f"The effectiveness check was planned for {check_date.isoformat()}, "
                          "which has come; there is nothing to override.",
                          [("override_reason", "Leave it out: the check is due.")])
        return None
    if reason is None:
        raise Conflict(f"The effectiveness check is planned for {check_date.isoformat()}; "
                       f"today is {today.isoformat()} (UTC). Record the result on or after "
                       "the planned date, or a manager may record it early with an "
                       "override_reason.",
                       title="Effectiveness check not due yet",
                       check_date=check_date.isoformat(), today=today.isoformat())
    return EarlyOverride(by=by, reason=reason)


def check_plan_change(*, verified_this_cycle: bool, number: str) -> None:
    """The plan a verification was judged against is part of that record."""
    if verified_this_cycle:
        raise Conflict(f"An effectiveness verification of {number} was recorded against "
                       "this plan, so the plan is frozen; it can be revised only after the "
                       "CAPA is reopened for a new cycle.", title="Effectiveness plan frozen")
