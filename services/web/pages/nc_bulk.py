"""Bulk triage, assignment and closing from the NC inbox (issue 16).

One form posts the ticked rows (``nc`` = "id:version:number", the version the
inbox showed, sent as If-Match so a row someone changed since is refused, not
overwritten). Each row is its own API call with the person's key: the service
decides each, and the page lists every row's outcome. One refused row (412,
409, 403, an unreachable service) is that row's outcome, never the page's 500.
"""

import re
import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..client import ApiError, UserApi
from ..deps import Api, CsrfUser, render
from ..session import UserSession
from .forms import posted, posted_list, text
from .nonconformities import BULK_LIMIT
from .wording import plain

router = APIRouter()

ACTIONS = {"accept": "Accepted", "reject": "Rejected", "assign_me": "Assigned",
           "assign": "Assigned", "close": "Closed"}
_NUMBER = re.compile(r"^[A-Z]{1,10}-[0-9]{4}-[0-9]{1,10}$")


@dataclass
class RowOutcome:
    id: str
    number: str
    ok: bool
    message: str


@dataclass(frozen=True)
class Picked:
    id: str
    version: str
    number: str


def _picked(value: str) -> Picked | None:
    """A ticked row as the inbox wrote it; None for anything else."""
    ident, _, rest = value.partition(":")
    version, _, number = rest.partition(":")
    try:
        ident = str(uuid.UUID(ident))
    except ValueError:
        return None
    if not version.isdigit() or len(version) > 12:
        return None
    return Picked(ident, version, number if _NUMBER.fullmatch(number) else "")


def _request(action: str, values: dict[str, str], user: UserSession
             ) -> tuple[str, str, dict[str, Any]] | str:
    """(method, path suffix, body) of one row's call, or what the form lacks."""
    if action in ("accept", "reject"):
        reason = text(values.get("reason"))
        if not reason:
            return "Give a triage reason: it is recorded on every nonconformity."
        return "POST", "/triage", {"decision": action, "reason": reason[:2000]}
    if action == "assign_me":
        return "PATCH", "", {"owner": user.subject}
    if action == "assign":
        owner = text(values.get("owner"))
        if not owner:
            return "Name the owner to assign them to."
        return "PATCH", "", {"owner": owner[:255]}
    if action == "close":
        resolution = text(values.get("resolution"))
        if not resolution:
            return "Give the resolution: it is recorded on every nonconformity closed."
        return "POST", "/close", {"resolution": resolution[:2000]}
    return "Choose what to do with the selected nonconformities."


async def _apply(api: UserApi, row: Picked, method: str, suffix: str,
                 body: dict[str, Any], done: str) -> RowOutcome:
    try:
        answer = await api.send("nonconformity", method,
                                f"/v1/nonconformities/{row.id}{suffix}", body,
                                if_match=f'"{row.version}"')
    except ApiError as exc:
        message = {412: "Someone changed it since the list was shown; open it and check.",
                   404: "It no longer exists."}.get(exc.status) or plain(str(exc))
        return RowOutcome(row.id, row.number, False, message)
    nc = answer.body if isinstance(answer.body, dict) else {}
    owner = f" to {nc.get('owner')}" if done == "Assigned" and nc.get("owner") else ""
    return RowOutcome(row.id, str(nc.get("number") or row.number), True, f"{done}{owner}.")


@router.post("/nonconformities/bulk", include_in_schema=False)
async def bulk(request: Request, user: CsrfUser, api: Api) -> Response:
    values = await posted(request)
    ticked = await posted_list(request, "nc")
    back = values.get("back", "")
    # Only the inbox itself, never another address (an open redirect).
    back = back if back.startswith("/nonconformities") and "//" not in back else \
        "/nonconformities"
    action = values.get("action", "")
    problem = ""
    if not ticked:
        problem = "Tick the nonconformities to change first."
    elif len(ticked) > BULK_LIMIT:
        problem = (f"{len(ticked)} were selected; change at most {BULK_LIMIT} at a time "
                   "(narrow the list with its filters).")
    planned = _request(action, values, user) if not problem else problem
    if isinstance(planned, str):
        return render(request, "nc_bulk.html", status_code=422, title="Nothing changed",
                      problem=planned, outcomes=[], back=back)
    method, suffix, body = planned
    outcomes: list[RowOutcome] = []
    for value in dict.fromkeys(ticked):  # a row ticked twice is changed once
        row = _picked(value)
        if row is None:
            outcomes.append(RowOutcome("", "", False, "Not a nonconformity of the list."))
            continue
        # One after the other: a person's bulk change must not crowd out the others'.
        outcomes.append(await _apply(api, row, method, suffix, body, ACTIONS[action]))
    changed = sum(o.ok for o in outcomes)
    return render(request, "nc_bulk.html", title=f"{changed} of {len(outcomes)} changed",
                  problem="", outcomes=outcomes, back=back, changed=changed)
