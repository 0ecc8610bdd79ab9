"""The CAPA board, a CAPA's page and its workflow moves.

The root-cause form is in capa_forms.py, actions and effectiveness in
capa_actions.py; all re-render the page through ``render_capa`` when the API refuses.
"""

import asyncio
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from shared.vocabulary import CapaStatus

from ..client import ApiError, UserApi
from ..deps import Api, CsrfUser, CurrentUser, redirect, render
from ..session import UserSession
from . import capa_guide as guide
from .audit_wording import change_lines, plural
from .choices import (
    ACTION_FINISHED_STATES,
    ACTION_KIND_LABELS,
    ACTION_STATUS_OPTIONS,
    CAPA_FINISHED_STATES,
    CAPA_KIND_OPTIONS,
    CAPA_KINDS,
    CAPA_OPEN_STATES,
    CAPA_STATE_LABELS,
    CAUSE_LABELS,
    SEVERITIES,
    SEVERITY_OPTIONS,
    SOURCE_OPTIONS,
    SOURCES,
    labelled,
)
from .forms import (
    FormState,
    allowed,
    capa_request,
    new_idempotency_key,
    posted,
    refused,
    text,
    valid_uuid,
    words,
)
from .nonconformities import WHO, WHO_LABELS
from .review_meetings import decision_links
from .review_period import board_periods, period_params
from .similar import capa_panel
from .supplier_choice import registered_suppliers
from .suppliers import KEEPERS
from .watches import watch_state
from .why_form import form_from_saved, why_rows

router = APIRouter()

OPEN_STATES = CAPA_OPEN_STATES
FINISHED_STATES = CAPA_FINISHED_STATES
STATE_LABELS = CAPA_STATE_LABELS
KINDS = CAPA_KINDS
# Where a CAPA's problem came from: an NC's source, or a risk (preventive CAPAs).
CAPA_SOURCES = (*SOURCES, "risk")
CAPA_SOURCE_OPTIONS = (*SOURCE_OPTIONS, ("risk", "Risk or opportunity"))
CAUSE_CATEGORIES = labelled(CAUSE_LABELS)
ACTION_KINDS = labelled(ACTION_KIND_LABELS)
BOARD_LIMIT = 200
# Who may open a CAPA (the capa API's rule for POST /v1/capas; admin holds every role).
OPENERS = ("engineer", "manager")
# The buttons of the moves that need no fields; closing, cancelling and sending
# back to investigation get their own small forms (lesson, reason).
MOVE_LABELS: dict[str, str] = {
    CapaStatus.investigating: "Start investigation",
    CapaStatus.action_planned: "Mark actions planned",
    CapaStatus.implementing: "Start implementing",
    CapaStatus.verifying: "Start effectiveness check"}
# The moves that can carry an electronic signature (pages/signing.py): planning
# actions approves the submitted root-cause analysis.
SIGNED_MOVES: dict[str, str] = {CapaStatus.action_planned: "root_cause_approval",
                                CapaStatus.closed: "closure"}
SIGN_OPTIONS = {
    "root_cause_approval": [("approval", "Approval"), ("review", "Review")],
    "effectiveness_verification": [("authorship", "Authorship"), ("review", "Review"),
                                   ("responsibility", "Responsibility")],
    "closure": [("approval", "Approval"), ("responsibility", "Responsibility")]}

@router.get("/capas", include_in_schema=False)
async def board(request: Request, user: CurrentUser, api: Api) -> Response:
    q = request.query_params
    periods = board_periods(q)
    # Closed in a period: only finished CAPAs can be, so the board shows them.
    finished = q.get("finished") == "1" or bool(periods["closed_from"] or periods["closed_to"])
    filters = {"severity": allowed(q.get("severity"), SEVERITIES),
               "kind": allowed(q.get("kind"), KINDS),
               "owner": (q.get("owner") or "").strip()[:255] or None,
               "overdue": "true" if q.get("overdue") == "1" else None,
               # The management review's Pareto bars lead here.
               "source": allowed(q.get("source"), CAPA_SOURCES),
               "cause_category": allowed(q.get("cause_category"), tuple(CAUSE_LABELS))}
    who = allowed(q.get("who"), tuple(WHO))
    states = OPEN_STATES + (FINISHED_STATES if finished else ())
    page = await api.get("capa", "/v1/capas", status=list(states), limit=BOARD_LIMIT,
                         **filters, **WHO.get(who or "", {}), **period_params(periods))
    filters["who"] = who
    filters |= periods
    columns: dict[str, list[dict[str, Any]]] = {s: [] for s in states}
    for capa in page["items"]:
        columns.setdefault(capa["status"], []).append(capa)
    return render(request, "capa_board.html", title="CAPA board", columns=columns,
                  labels=STATE_LABELS, filters=filters, finished=finished,
                  truncated=bool(page.get("next_cursor")), limit=BOARD_LIMIT,
                  total=page.get("total"), severities=SEVERITY_OPTIONS, kinds=CAPA_KIND_OPTIONS,
                  may_open=user.holds_any(*OPENERS), who_options=WHO_LABELS,
                  sources=CAPA_SOURCE_OPTIONS, causes=CAUSE_CATEGORIES)


@router.get("/capas/new", include_in_schema=False)
async def new_form(request: Request, user: CurrentUser) -> Response:
    if not user.holds_any(*OPENERS):
        # The API would refuse the form on submit: say so before anything is typed.
        return render(request, "capa_new.html", status_code=403, title="Open a CAPA",
                      allowed=False)
    return _new_page(request, FormState(name="new", values={"kind": "preventive"}))


def _new_page(request: Request, state: FormState) -> Response:
    return render(request, "capa_new.html", status_code=state.status, title="Open a CAPA",
                  allowed=True, state=state, severities=SEVERITY_OPTIONS,
                  new_key=new_idempotency_key())


@router.post("/capas", include_in_schema=False)
async def open_capa(request: Request, user: CsrfUser, api: Api) -> Response:
    """A CAPA without a nonconformity behind it: preventive (a risk or an opportunity,
    ISO 9001 6.1) or corrective opened by hand. For an NC, use its page."""
    values = await posted(request)
    # No source here: the capa API takes it only with a nonconformity.
    values = {k: v for k, v in values.items() if k != "source"}
    body = capa_request(values, kind=values.get("kind") or "preventive")
    try:
        created = await api.send("capa", "POST", "/v1/capas", body,
                                 idempotency_key=values.get("idempotency_key") or None)
    except ApiError as exc:
        return _new_page(request, refused("new", exc, values))
    user.flash(f"{created.body['number']} opened.", "ok")
    return redirect(f"/capas/{created.body['id']}")


@router.get("/capas/{capa_id}", include_in_schema=False)
async def capa_page(request: Request, capa_id: str, user: CurrentUser, api: Api) -> Response:
    # ?revise=1: "Revise" opens the editor on a submitted analysis (a GET: nothing changes).
    return await render_capa(request, api, user, capa_id,
                             revising=request.query_params.get("revise") == "1")


async def render_capa(request: Request, api: UserApi, user: UserSession, capa_id: str,
                      state: FormState | None = None,
                      root_form: dict[str, Any] | None = None,
                      revising: bool = False,
                      similar: dict[str, Any] | None = None) -> Response:
    """The CAPA page with fresh data. ``state``: the form the API refused;
    ``root_form``: the person's own 5-Whys text to show instead of the saved one (the
    editor stays open for it); ``revising``: "Revise" opened a submitted analysis;
    ``similar``: the similar-lessons panel from that text (pages/similar.py)."""
    capa_id = valid_uuid(capa_id, "CAPA")
    base = f"/v1/capas/{capa_id}"
    got, root, options, actions, verifications, trail, chain, seals = await asyncio.gather(
        api.get_with_etag("capa", base), api.get_with_etag("capa", f"{base}/root-cause"),
        api.get("capa", f"{base}/transitions"),
        api.get("capa", f"{base}/actions"),
        api.get("capa", f"{base}/effectiveness-verifications"),
        api.get("capa", f"{base}/audit-trail", limit=200),
        api.get("capa", f"{base}/audit-trail/verify"),
        api.get("capa", f"{base}/signatures/verify"))
    capa = got.body
    scars = await scars_of(api, capa_id)  # the SCAR section (capa_scars.html)
    saved = root.body
    # A closed CAPA shows the lesson learned it published.
    lessons = (await api.get("capa", "/v1/lessons", capa_id=capa_id, limit=5))["items"] \
        if capa["status"] == CapaStatus.closed else []
    form = root_form or form_from_saved(saved, root.etag or '"0"')
    if not form["etag"]:  # after a conflict: the person's text on the current version
        form["etag"] = root.etag or '"0"'
    state = state or FormState()
    today = datetime.now(UTC).date()  # the service judges dates in UTC days
    entries = trail["items"]
    decided = await decision_links(api, entries)  # review decisions behind it
    can = guide.allowed(user.principal, capa, options, saved, verifications, today=today,
                        revising=revising or root_form is not None,
                        former_owners=guide.owners_since_implementing(entries))
    shown = {f"move_{to}" for to in can.moves} | {
        name for name in ("root_cause", "add_action", "plan", "verify", "edit")
        if getattr(can, name)}
    # The actions that get an update form: the open ones, for those who may update.
    updatable = {a["id"] for a in actions
                 if can.update_action and a["status"] not in ACTION_FINISHED_STATES}
    shown |= {f"action_{action_id}" for action_id in updatable}
    if can.action_evidence:
        shown |= {f"evidence_{a['id']}" for a in actions}
    if can.verification_evidence:
        shown |= {f"evidence_{v['id']}" for v in verifications}
    # Past lessons beside the 5-Whys form, while it can be written.
    similar = similar or await capa_panel(api, capa_id, suggest=can.root_cause)
    # A refused form the fresh page no longer shows still needs its message.
    orphan = state.message if state.name and state.name not in shown else ""
    return render(request, "capa_detail.html", status_code=state.status,
                  title=f"{capa['number']} {capa['title']}", capa=capa, etag=got.etag or "",
                  saved=saved, form=form, rows=why_rows(form, state), actions=actions,
                  verifications=verifications, trail=entries, chain=chain,
                  steps=guide.stepper(capa, guide.cancelled_from(entries)),
                  waiting=guide.waiting_for(capa, options, saved, actions, verifications,
                                            today=today),
                  changes=change_lines, plural=plural,
                  ncs=await _linked_ncs(api, capa["nonconformity_ids"]), state=state,
                  can=can, orphan=orphan, lessons=lessons, labels=STATE_LABELS,
                  causes=CAUSE_CATEGORIES, updatable=updatable,
                  action_kinds=ACTION_KINDS, action_statuses=ACTION_STATUS_OPTIONS,
                  move_labels=MOVE_LABELS, decided=decided,
                  move_forms={to: _move_form(capa["status"], to) for to in can.moves},
                  new_key=new_idempotency_key(), seals=seals, signed_moves=SIGNED_MOVES,
                  sign_options=SIGN_OPTIONS,
                  may_sign=request.app.state.oidc_login is not None
                  and user.principal.method == "oidc",
                  today=today.isoformat(), similar=similar,
                  watch=await watch_state(api, "capas", capa_id), scars=scars,
                  suppliers=await registered_suppliers(api) if can.edit else [],
                  manager=user.holds_any(*KEEPERS))


async def scars_of(api: UserApi, capa_id: str) -> list[dict[str, Any]] | None:
    """The CAPA's SCARs; None when they cannot be read (the section says so and the
    rest of the page still shows)."""
    try:
        scars: list[dict[str, Any]] = await api.get("capa", f"/v1/capas/{capa_id}/scars")
    except ApiError as exc:
        if exc.status == 401:
            raise
        return None
    return scars


async def _linked_ncs(api: UserApi, ids: list[str]) -> list[dict[str, Any]]:
    """Number and title of the CAPA's nonconformities (the CAPA holds only their ids)."""
    async def one(nc_id: str) -> dict[str, Any]:
        try:
            return dict(await api.get("nonconformity", f"/v1/nonconformities/{nc_id}"))
        except ApiError:  # not visible or service down: still link to it
            return {"id": nc_id, "number": nc_id, "title": ""}
    return list(await asyncio.gather(*(one(i) for i in ids[:20])))


def _move_form(status: str, to: str) -> str:
    """The form a move gets on the page (its fields' prefix): closing takes the
    lesson learned, cancelling a reason, and a CAPA found not effective goes back
    to investigation with a reason; any other move is a button (MOVE_LABELS)."""
    if to == CapaStatus.closed:
        return "close"
    if to == CapaStatus.cancelled:
        return "cancel"
    if to == CapaStatus.investigating and status == CapaStatus.verifying:
        return "reinvestigate"
    return "button"


@router.post("/capas/{capa_id}/transitions", include_in_schema=False)
async def move(request: Request, capa_id: str, user: CsrfUser, api: Api) -> Response:
    capa_id = valid_uuid(capa_id, "CAPA")
    values = await posted(request)
    to = values.get("to", "")
    body: dict[str, Any] = {"to": to}
    if text(values.get("reason")):
        body["reason"] = text(values.get("reason"))
    if to == CapaStatus.closed:
        # The lesson learned is published with the closure; the API says if it is missing.
        lesson = text(values.get("lesson"))
        if lesson:
            body["lesson"] = {"what_to_do_differently": lesson,
                              "tags": words(values.get("lesson_tags"))}
    signed = SIGNED_MOVES.get(to)
    if signed and values.get("sign_meaning"):
        # Imported here: the signing page re-renders this module's CAPA page.
        from .signing import review
        return await review(request, api, user, capa_id, form=f"move_{to}", move=signed,
                            path="/transitions", body=body, meaning=values["sign_meaning"])
    try:
        await api.send("capa", "POST", f"/v1/capas/{capa_id}/transitions", body)
    except ApiError as exc:
        state = refused(f"move_{to}", exc, values,
                        aliases={"lesson.tags": "lesson_tags", "lesson": "lesson",
                                 "reason": "reason", "to": "to"})
        return await render_capa(request, api, user, capa_id, state)
    user.flash(f"The CAPA is now {STATE_LABELS.get(to, to).lower()}.", "ok")
    return redirect(f"/capas/{capa_id}")
