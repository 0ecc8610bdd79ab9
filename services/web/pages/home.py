"""The start page: "My work", each role's queue (issue 16).

An engineer sees the untriaged NCs (theirs first, then nobody's), their open
CAPAs and their actions soonest due; a verifier the CAPAs in verification they
do not own (an owner may not verify their own fix); a manager what is overdue
and what nobody owns. Every section shows its count and a few items and links
to the filtered list; a person with several roles sees each role's sections.

Each section is one call to a service's list API with the filters it needs;
one section whose service cannot be reached says so, and the others still show.
"""

import asyncio
from dataclasses import dataclass, field
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response

from shared.vocabulary import CapaLink, CapaStatus, NonconformityStatus

from ..client import ApiError, ServiceName, UserApi
from ..deps import Api, CurrentUser, render
from ..session import UserSession
from .choices import CAPA_OPEN_STATES, CAPA_STATE_LABELS

router = APIRouter()

SHOWN = 5  # items per section; the link leads to the rest
Kind = Literal["nc", "capa", "action"]


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    kind: Kind
    params: dict[str, Any]
    link: str | None
    empty: str


@dataclass
class Filled:
    section: Section
    items: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0
    error: str = ""


_UNTRIAGED = NonconformityStatus.reported.value
# Untriaged work is an NC nobody escalated: one whose CAPA is requested or open is
# being worked as that CAPA (its owner is the CAPA's), though the NC stays reported.
_NO_CAPA = CapaLink.none.value
_OPEN = list(CAPA_OPEN_STATES)

ENGINEER = (
    Section("ncs_mine", "Untriaged nonconformities you own", "nc",
            {"status": _UNTRIAGED, "mine": "true", "capa": _NO_CAPA, "sort": "-severity"},
            f"/nonconformities?status={_UNTRIAGED}&who=mine&capa={_NO_CAPA}&sort=-severity",
            "None: nothing untriaged is yours."),
    Section("ncs_unowned", "Untriaged nonconformities nobody owns", "nc",
            {"status": _UNTRIAGED, "assigned": "false", "capa": _NO_CAPA,
             "sort": "-severity"},
            f"/nonconformities?status={_UNTRIAGED}&who=unassigned&capa={_NO_CAPA}"
            "&sort=-severity",
            "None: every untriaged nonconformity has an owner."),
    Section("capas_mine", "Your open CAPAs", "capa", {"status": _OPEN, "mine": "true"},
            "/capas?who=mine", "You own no open CAPA."),
    Section("actions_mine", "Your actions, soonest due first", "action",
            dict(mine="true", open="true"), "/actions?who=mine&unfinished=1",
            "No open action is yours."),
)
VERIFIER = (
    Section("verify", "CAPAs awaiting effectiveness verification", "capa",
            # Not the ones they own: whoever fixed it does not judge the fix.
            {"status": [CapaStatus.verifying.value], "mine": "false"},
            "/capas?who=not_mine", "No CAPA is waiting for you to verify it."),
)
MANAGER = (
    Section("capas_overdue", "Overdue CAPAs", "capa", {"overdue": "true", "status": _OPEN},
            "/capas?overdue=1", "No CAPA is overdue."),
    Section("actions_overdue", "Overdue actions", "action", {"overdue": "true"},
            "/actions?overdue=1", "No action is overdue."),
    Section("capas_unowned", "Open CAPAs nobody owns", "capa",
            {"assigned": "false", "status": _OPEN}, "/capas?who=unassigned",
            "Every open CAPA has an owner."),
    ENGINEER[1],
)
EVERYONE = (
    Section("ncs_new", "Newest nonconformities", "nc", {}, "/nonconformities",
            "No nonconformity has been reported yet."),
)
PATHS: dict[Kind, tuple[ServiceName, str]] = {
    "nc": ("nonconformity", "/v1/nonconformities"), "capa": ("capa", "/v1/capas"),
    "action": ("capa", "/v1/actions")}


def sections_for(user: UserSession) -> list[Section]:
    """Each role's sections in the order engineer, verifier, manager, once each."""
    chosen: list[Section] = []
    for role, sections in (("engineer", ENGINEER), ("verifier", VERIFIER),
                           ("manager", MANAGER)):
        if user.holds_any(role):
            chosen += [s for s in sections if s not in chosen]
    return chosen or list(EVERYONE)


async def _fill(api: UserApi, section: Section) -> Filled:
    service, path = PATHS[section.kind]
    try:
        page = await api.get(service, path, limit=SHOWN, **section.params)
    except ApiError as exc:
        if exc.status == 401:
            raise  # the key was revoked or the session's token expired: sign in again
        return Filled(section, error=str(exc))
    return Filled(section, items=list(page["items"]), total=int(page.get("total", 0)))


@router.get("/", include_in_schema=False)
async def home(request: Request, user: CurrentUser, api: Api) -> Response:
    filled = await asyncio.gather(*(_fill(api, s) for s in sections_for(user)))
    return render(request, "my_work.html", title="My work", sections=filled,
                  state_labels=CAPA_STATE_LABELS)
