"""Watch / Unwatch on the CAPA and NC pages, and "My notifications": a person's own
watches and subscriptions in plain words.

Watching calls the notifications API as the signed-in person
(``PUT /v1/watches/{area}/{id}``), which writes to the address of their own
sign-in — the e-mail claim of their company account, or their subject as owner
notices read it — never one typed into a form, so nobody subscribes a stranger.
A person without one gets the API's message ("no e-mail address") as a flash.
"""

from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..client import ApiError, ServiceName, UserApi
from ..deps import Api, CsrfUser, CurrentUser, redirect, render
from ..session import UserSession
from .choices import MODE_LABELS, labelled
from .forms import posted, valid_uuid
from .notice_words import subscription_sentence, watch_label, watch_terms
from .wording import plain

router = APIRouter()

Area = Literal["capas", "nonconformities"]
SETTINGS = "/my/notifications"
_RECORDS: dict[str, tuple[ServiceName, str]] = {
    "capas": ("capa", "CAPA"), "nonconformities": ("nonconformity", "nonconformity")}
MODES = labelled(MODE_LABELS)
# Enough for one person's own; more is a page the API would have to page through.
OWN_LIMIT = 200


async def watch_state(api: UserApi, area: Area, record_id: str) -> dict[str, Any]:
    """Whether the person watches the record, for its page's button. A notifications
    service that does not answer leaves the page whole, without the button."""
    try:
        sub = await api.get("notifications", f"/v1/watches/{area}/{record_id}")
    except ApiError as exc:
        if exc.status == 404:
            return {"watching": False}
        return {"unavailable": True}
    return {"watching": True, "mode": sub["mode"], "active": sub["active"]}


async def _label(api: UserApi, area: Area, record_id: str) -> str:
    """How pages will name the watched record: its number and title."""
    service, _ = _RECORDS[area]
    record = await api.get(service, f"/v1/{area}/{record_id}")
    return f"{record['number']} {record['title']}"[:200]


async def _watch(api: UserApi, user: UserSession, area: Area, record_id: str) -> Response:
    record_id = valid_uuid(record_id, _RECORDS[area][1])
    page = f"/{area}/{record_id}"
    label = await _label(api, area, record_id)
    try:
        answer = await api.send("notifications", "PUT", f"/v1/watches/{area}/{record_id}",
                                json={"label": label})
    except ApiError as exc:
        if exc.status in (409, 422):
            user.flash(f"Not watching: {plain(str(exc))}", "error")
            return redirect(page)
        raise
    sub = answer.body
    user.flash(f"You watch {label.split(' ', 1)[0]}: e-mails go to {sub['target']}. "
               f"Change it under “My notifications”.", "ok")
    return redirect(page)


async def _unwatch(api: UserApi, user: UserSession, area: Area, record_id: str) -> Response:
    record_id = valid_uuid(record_id, _RECORDS[area][1])
    await api.send("notifications", "DELETE", f"/v1/watches/{area}/{record_id}")
    user.flash("You no longer watch this. Nothing more is e-mailed about it.", "ok")
    return redirect(f"/{area}/{record_id}")


@router.post("/capas/{capa_id}/watch", include_in_schema=False)
async def watch_capa(capa_id: str, user: CsrfUser, api: Api) -> Response:
    return await _watch(api, user, "capas", capa_id)


@router.post("/capas/{capa_id}/unwatch", include_in_schema=False)
async def unwatch_capa(capa_id: str, user: CsrfUser, api: Api) -> Response:
    return await _unwatch(api, user, "capas", capa_id)


@router.post("/nonconformities/{nc_id}/watch", include_in_schema=False)
async def watch_nc(nc_id: str, user: CsrfUser, api: Api) -> Response:
    return await _watch(api, user, "nonconformities", nc_id)


@router.post("/nonconformities/{nc_id}/unwatch", include_in_schema=False)
async def unwatch_nc(nc_id: str, user: CsrfUser, api: Api) -> Response:
    return await _unwatch(api, user, "nonconformities", nc_id)


@router.get(SETTINGS, include_in_schema=False)
async def my_notifications(request: Request, user: CurrentUser, api: Api) -> Response:
    # owner=: a manager's list is everyone's; this page is the person's own.
    page = await api.get("notifications", "/v1/subscriptions", owner=user.subject,
                         limit=OWN_LIMIT)
    mine = [s for s in page["items"] if s["owner"] == user.subject]
    watches = [s | {"label": watch_label(s), "terms": watch_terms(s),
                    "page": f"/{'capas' if s['watch']['record'] == 'capa' else 'nonconformities'}"
                            f"/{s['watch']['record_id']}"}
               for s in mine if s.get("watch")]
    others = [s | {"sentence": subscription_sentence(s)} for s in mine if not s.get("watch")]
    return render(request, "my_notifications.html", title="My notifications",
                  watches=watches, others=others, modes=MODES,
                  more=bool(page.get("next_cursor")))


def _own_id(value: str) -> str:
    return valid_uuid(value, "watch or subscription")


@router.post(SETTINGS + "/{sub_id}/mode", include_in_schema=False)
async def change_mode(request: Request, sub_id: str, user: CsrfUser, api: Api) -> Response:
    mode = (await posted(request)).get("mode", "")
    if mode not in MODE_LABELS:
        user.flash("Choose right away, a daily or a weekly digest.", "error")
        return redirect(SETTINGS)
    try:
        await api.send("notifications", "PATCH", f"/v1/subscriptions/{_own_id(sub_id)}",
                       json={"mode": mode})
    except ApiError as exc:
        if exc.status not in (409, 422):
            raise
        user.flash(plain(str(exc)), "error")
        return redirect(SETTINGS)
    user.flash(f"Saved: {MODE_LABELS[mode].lower()}.", "ok")
    return redirect(SETTINGS)


@router.post(SETTINGS + "/{sub_id}/unwatch", include_in_schema=False)
async def unwatch_from_settings(sub_id: str, user: CsrfUser, api: Api) -> Response:
    await api.send("notifications", "DELETE", f"/v1/subscriptions/{_own_id(sub_id)}")
    user.flash("You no longer watch it. Nothing more is e-mailed about it.", "ok")
    return redirect(SETTINGS)
