"""Supplier corrective action requests (SCAR): states, the response link's
token, and what a complete response holds. Pure Python.

A SCAR asks a supplier to find and remove the root cause of a nonconformity
its product or service caused. The supplier's contact answers through a link
(no account): the token in it is the only credential, so its rules live here
and are tested on their own (tests/unit/capa/test_scar.py).
"""

import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from shared.errors import Conflict, Invalid
from shared.vocabulary import ScarStatus


class ScarMove(StrEnum):
    submit = "submit"
    accept = "accept"
    reject = "reject"
    revoke = "revoke"


# Which move leads from which states, and where.
MOVES: Mapping[ScarMove, tuple[frozenset[ScarStatus], ScarStatus]] = {
    ScarMove.submit: (frozenset({ScarStatus.sent, ScarStatus.rejected}), ScarStatus.responded),
    ScarMove.accept: (frozenset({ScarStatus.responded}), ScarStatus.accepted),
    ScarMove.reject: (frozenset({ScarStatus.responded}), ScarStatus.rejected),
    ScarMove.revoke: (frozenset({ScarStatus.sent, ScarStatus.responded, ScarStatus.rejected}),
                      ScarStatus.revoked),
}
# The supplier is expected to act: due-date reminders and overdue notices apply.
AWAITING_SUPPLIER = frozenset({ScarStatus.sent, ScarStatus.rejected})
FINISHED = frozenset({ScarStatus.accepted, ScarStatus.revoked})
# The link opens the SCAR in these states (read-only once accepted, so the
# supplier sees the outcome); a revoked SCAR's link is dead.
LINK_OPENS = frozenset({ScarStatus.sent, ScarStatus.responded, ScarStatus.rejected,
                        ScarStatus.accepted})


class ScarMoveNotAllowed(Conflict):
    def __init__(self, current: ScarStatus | str, move: ScarMove) -> None:
        allowed = sorted(m.value for m, (sources, _) in MOVES.items() if current in sources)
        super().__init__(f"A SCAR that is {current} cannot be {_PAST[move]}.",
                         title="SCAR move not allowed", status_now=str(current),
                         allowed=allowed)


_PAST = {ScarMove.submit: "submitted", ScarMove.accept: "accepted",
         ScarMove.reject: "rejected", ScarMove.revoke: "revoked"}


def next_status(current: ScarStatus, move: ScarMove) -> ScarStatus:
    sources, target = MOVES[move]
    if current not in sources:
        raise ScarMoveNotAllowed(current, move)
    return target


def check_scar_supplier(capa_supplier: str | None, scar_supplier: str) -> None:
    """A SCAR goes to the CAPA's supplier: sent to another, its answer would count
    on the wrong scorecard. A CAPA naming no supplier may send to any (the SCAR
    then says whom; the CAPA is left as it is)."""
    if capa_supplier is not None and capa_supplier != scar_supplier:
        raise Conflict(f"This CAPA is about supplier {capa_supplier}; a SCAR goes to that "
                       f"supplier's contacts, not to {scar_supplier}'s.",
                       title="Not the CAPA's supplier", field="supplier_code")


# -- the response link's token ---------------------------------------------------------

# 32 random bytes (256 bits): far beyond guessing at any request rate; the
# rate limit is for the rest (enumeration noise, a leaked token's abuse).
TOKEN_BYTES = 32
# What a presented token must look like before it is even hashed: the
# urlsafe-base64 alphabet, the length token_urlsafe(32) gives.
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")


@dataclass(frozen=True)
class IssuedToken:
    """A new link's token: ``value`` goes into the e-mail and nowhere else,
    ``digest`` is what the database keeps."""

    value: str
    digest: str


def issue_token() -> IssuedToken:
    value = secrets.token_urlsafe(TOKEN_BYTES)
    return IssuedToken(value=value, digest=token_digest(value))


def token_digest(value: str) -> str:
    """SHA-256 of the token, hex. A plain hash suffices (no salt, no slow KDF):
    the token is 256 random bits, not a password someone chose, so a stolen
    table of digests gives nothing to guess from."""
    return hashlib.sha256(value.encode("ascii")).hexdigest()


def well_formed(value: str) -> bool:
    return TOKEN_SHAPE.fullmatch(value) is not None


def link_opens(status: ScarStatus, expires_at: datetime, now: datetime) -> bool:
    """Does a stored link still open its SCAR? Unknown, expired and revoked
    links all get the same 404 from the caller, so nobody learns which."""
    return status in LINK_OPENS and now < expires_at


def link_expiry(now: datetime, *, valid_days: int, due_date: date) -> datetime:
    """A link lives ``valid_days`` from now, and at least until a week after the
    due date, so a late supplier can still answer (and see it is overdue)."""
    after_due = datetime.combine(due_date + timedelta(days=7), now.timetz())
    return max(now + timedelta(days=valid_days), after_due)


# The problem type of a date outside the window a SCAR allows (relative to today
# or to the SCAR): the schema states the calendar's range, but "not in the past"
# depends on the clock, which no schema can state, so clients (and the project's
# fuzz test) can tell this refusal from a malformed request.
DATE_OUTSIDE_WINDOW = "urn:capaflow:problem:date-outside-window"


def check_due_date(due: date, today: date, *, max_days: int = 366) -> None:
    if due < today:
        raise Invalid("A SCAR's due date cannot lie in the past.",
                      [("due_date", f"give {today.isoformat()} or later")],
                      type_uri=DATE_OUTSIDE_WINDOW)
    if due > today + timedelta(days=max_days):
        raise Invalid("A SCAR's due date lies too far ahead.",
                      [("due_date", f"give a date within {max_days} days")],
                      type_uri=DATE_OUTSIDE_WINDOW)


# -- the supplier's response ------------------------------------------------------------

# Markup or a script link in a supplier's text: it is shown to engineers (escaped,
# but a pasted "javascript:" link is never anything a response needs), so it is
# refused rather than stored.
_HOSTILE = re.compile(r"(?i)(?:\b(?:javascript|vbscript|data)\s*:|<\s*/?\s*(?:script|iframe|"
                      r"object|embed|svg|img|a|form|style|link|meta)\b)")


def hostile_markup(text: str) -> bool:
    return _HOSTILE.search(text) is not None


@dataclass(frozen=True)
class PlannedAction:
    description: str
    due_date: date


@dataclass(frozen=True)
class ResponseDraft:
    """The supplier's answer as it stands (every field may still be missing)."""

    containment: str | None
    problem_statement: str | None
    whys: tuple[tuple[str, str], ...]
    root_cause: str | None
    corrective_actions: tuple[PlannedAction, ...]


MIN_WHYS = 3


def submission_errors(draft: ResponseDraft) -> list[tuple[str, str]]:
    """What a submitted response still lacks; a draft may lack anything."""
    errors: list[tuple[str, str]] = []
    if not draft.containment:
        errors.append(("containment", "Say how the affected product or service was contained."))
    if not draft.root_cause:
        errors.append(("root_cause", "State the root cause you found."))
    if len(draft.whys) < MIN_WHYS:
        errors.append(("whys", f"Ask why at least {MIN_WHYS} times to reach the root cause."))
    if not draft.corrective_actions:
        errors.append(("corrective_actions",
                       "Plan at least one corrective action (removing the root cause)."))
    return errors


def check_revised(status: ScarStatus | str, *, response: Mapping[str, object],
                  submitted: Mapping[str, object] | None, files: frozenset[str],
                  submitted_files: frozenset[str]) -> None:
    """A returned (rejected) response goes back to the engineer only changed: its
    text or its evidence files differ from the submission that was rejected."""
    if status == ScarStatus.rejected and dict(response) == dict(submitted or {}) \
            and files == submitted_files:
        raise Conflict("Revise the response before submitting it again: it is the one "
                       "that was returned (change its text or its evidence files).",
                       title="Response not revised")


def check_action_dates(actions: tuple[PlannedAction, ...], *, sent_on: date,
                       today: date) -> None:
    """Planned actions lie between a year before the SCAR and five years ahead: a
    date outside is a typo (or a probe), and reports compute with it."""
    earliest, latest = sent_on - timedelta(days=366), today + timedelta(days=5 * 366)
    errors = [(f"corrective_actions.{i}.due_date",
               f"give a date from {earliest.isoformat()} to {latest.isoformat()}")
              for i, a in enumerate(actions) if not earliest <= a.due_date <= latest]
    if errors:
        raise Invalid("A corrective action's date is out of range.", errors,
                      type_uri=DATE_OUTSIDE_WINDOW)
