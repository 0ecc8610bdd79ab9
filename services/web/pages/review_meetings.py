"""A recorded management review on a page of its own, and the other way round: on a
CAPA, the review decision that opened it or added one of its actions.

The CAPA's trail entry "review decision linked" stores the meeting's id and the
decision's text (and, since this UI, its date). Entries are never rewritten: the
words are made here, when the page is read, from the entry and the meeting.
"""

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..client import ApiError, UserApi
from ..deps import Api, CurrentUser, render
from .forms import valid_uuid
from .review_pack import last_day

router = APIRouter()

LINKED = "review_decision_linked"


@dataclass(frozen=True)
class Decided:
    """One decision as the CAPA page names it."""

    review_id: str
    held_on: str  # '' when neither the entry nor the meeting says (the meeting is gone)
    text: str
    action_id: str | None

    @property
    def meeting(self) -> str:
        return f"the management review of {self.held_on}" if self.held_on \
            else "a management review"

    @property
    def url(self) -> str:
        return f"/review-meetings/{self.review_id}"


@dataclass
class DecisionLinks:
    """What the CAPA page shows: who opened it, which actions a decision added, and the
    words of each trail entry (by its sequence)."""

    opened_by: Decided | None = None
    actions: dict[str, Decided] = field(default_factory=dict)
    entries: dict[int, Decided] = field(default_factory=dict)


async def decision_links(api: UserApi, trail: list[dict[str, Any]]) -> DecisionLinks:
    links = DecisionLinks()
    linked = [e for e in trail if e.get("action") == LINKED and (e.get("after") or {})
              .get("review_id")]
    dates: dict[str, str] = {}
    for entry in linked:  # one or two per CAPA at most
        after = entry["after"]
        review_id = str(after["review_id"])
        if review_id not in dates:
            dates[review_id] = str(after.get("held_on") or "") or await _held_on(api, review_id)
        decided = Decided(review_id=review_id, held_on=dates[review_id],
                          text=str(after.get("decision") or ""),
                          action_id=str(after["action_id"]) if after.get("action_id") else None)
        links.entries[entry["sequence"]] = decided
        if decided.action_id:
            links.actions[decided.action_id] = decided
        elif links.opened_by is None:
            links.opened_by = decided
    return links


async def _held_on(api: UserApi, review_id: str) -> str:
    """An entry written before it carried the date: the meeting says it."""
    try:
        return str((await api.get("capa", f"/v1/management-reviews/{review_id}"))["held_on"])
    except ApiError as exc:
        if exc.status == 401:
            raise
        return ""


@router.get("/review-meetings/{review_id}", include_in_schema=False)
async def meeting_page(request: Request, review_id: str, _user: CurrentUser,
                       api: Api) -> Response:
    review_id = valid_uuid(review_id, "management review")
    meeting = await api.get("capa", f"/v1/management-reviews/{review_id}")
    return render(request, "review_meeting.html",
                  title=f"Management review of {meeting['held_on']}", meeting=meeting,
                  last_day=last_day)
