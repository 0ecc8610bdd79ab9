"""The lifecycle guards of a nonconformity: which moves its status allows.

A refusal is a ``shared.errors.Conflict`` titled "Not allowed now" whose
``allowed`` extension names the moves the NC does allow, so a client can offer
them instead.
"""

from uuid import UUID

from shared.errors import Conflict, NotFound
from shared.vocabulary import NonconformityStatus

from .nonconformity import OPEN_STATUSES, CapaLink, TriageDecision


class NonconformityNotFound(NotFound):
    def __init__(self, nc_id: UUID) -> None:
        super().__init__(f"No nonconformity {nc_id}.")
        self.nc_id = nc_id


class TransitionRefused(Conflict):
    """A lifecycle move that the rules do not allow; ``allowed`` names what is."""

    def __init__(self, message: str, allowed: list[str]) -> None:
        super().__init__(message, title="Not allowed now", allowed=allowed)
        self.allowed = allowed


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
