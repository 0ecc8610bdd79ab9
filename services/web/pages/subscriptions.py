"""Subscriptions to CAPAflow events (notifications service): list, create, pause,
resume, rotate the signing secret, send a test event, delete; and one
subscription's deliveries with "retry" for dead-lettered ones.

A webhook's signing secret is in the API's answer to create (and rotate) only.
After the redirect it is shown once on the subscription's page, then forgotten:
the session store holds it sealed until then, for whichever replica serves that
page (session.py).
"""

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..client import ApiError, UserApi
from ..deps import Api, CsrfUser, CurrentUser, redirect, render, session_store
from . import nc_refs
from .choices import DELIVERY_STATUSES, SEVERITY_OPTIONS
from .forms import posted
from .sub_forms import (
    CHANNELS,
    MODES,
    PEOPLE,
    form_errors,
    subscription_body,
)
from .wording import plain

router = APIRouter()

PAGE_SIZE = 50
OVERLAPS = (("86400", "1 day"), ("3600", "1 hour"), ("604800", "7 days"),
            ("0", "None: the old secret stops at once"))


def _valid_id(value: str) -> str:
    """A path id that is no UUID is a page that does not exist."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ApiError(404, "There is no such subscription or delivery.") from None


def _refusal(exc: ApiError) -> str:
    """The message for an action the API refused; what is no action problem
    (sign-in, missing object, service down) goes to the app's error handler."""
    if exc.status in (400, 403, 409, 422):
        prefix = "You are not allowed to do this: " if exc.status == 403 else ""
        return f"{prefix}{plain(str(exc))}"
    raise exc


@router.get("/subscriptions", include_in_schema=False)
async def subscription_list(request: Request, user: CurrentUser, api: Api,
                            owner: str = "", cursor: str = "") -> Response:
    owner = owner.strip()[:255] if user.holds_any("manager") else ""
    page = await api.get("notifications", "/v1/subscriptions", owner=owner,
                         cursor=cursor[:500], limit=PAGE_SIZE)
    next_query = ({"owner": owner, "cursor": page["next_cursor"]} if owner
                  else {"cursor": page["next_cursor"]}) if page.get("next_cursor") else None
    return render(request, "sub_list.html", title="Subscriptions", items=page["items"],
                  owner=owner, next_query=next_query, paged=bool(cursor),
                  may_create=user.holds_any(*PEOPLE))


def _form_page(request: Request, *, values: dict[str, Any], errors: dict[str, str],
               message: str = "", status: int = 200, manager: bool) -> Response:
    # A fresh key each time the form is shown: sending the same form twice (a double
    # click) creates one subscription, a corrected resend another body.
    values = values | {"idempotency_key": str(uuid.uuid4())}
    return render(request, "sub_new.html", status_code=status, title="New subscription",
                  values=values, errors=errors, message=message, channels=CHANNELS,
                  modes=MODES, severities=SEVERITY_OPTIONS, manager=manager)


@router.get("/subscriptions/new", include_in_schema=False)
async def new_form(request: Request, user: CurrentUser) -> Response:
    return _form_page(request, values={"channel": "webhook", "mode": "immediate",
                                       "active": "on"},
                      errors={}, manager=user.holds_any("manager"))


@router.post("/subscriptions", include_in_schema=False)
async def create(request: Request, user: CsrfUser, api: Api) -> Response:
    values = await posted(request)
    manager = user.holds_any("manager")
    ids, errors = await _referenced(api, values)
    body, more = subscription_body(values | ids, may_set_owner=manager)
    errors = more | errors
    if errors:
        return _form_page(request, values=values, errors=errors, status=422, manager=manager,
                          message="Some fields need another look.")
    try:
        created = (await api.send("notifications", "POST", "/v1/subscriptions", body,
                                  idempotency_key=values.get("idempotency_key") or None)).body
    except ApiError as exc:
        message = _refusal(exc)
        errors, unplaced = form_errors(exc)
        if unplaced:
            message = f"{message} ({'; '.join(unplaced)})"
        return _form_page(request, values=values, errors=errors, message=message,
                          status=exc.status, manager=manager)
    if created.get("secret"):
        await session_store(request).keep_secret(user, created["id"], created["secret"])
    user.flash(f"Subscription to {created['target']} created.", "ok")
    return redirect(f"/subscriptions/{created['id']}")


async def _referenced(api: UserApi, values: dict[str, str]
                      ) -> tuple[dict[str, str], dict[str, str]]:
    """The NC and CAPA the filter names by number, as the ids the API wants (and the
    message for each that names none)."""
    ids: dict[str, str] = {}
    errors: dict[str, str] = {}
    for name, resolve in (("nonconformity_id", nc_refs.resolve_nc),
                          ("capa_id", nc_refs.resolve_capa)):
        if (values.get(name) or "").strip():
            try:
                ids[name] = await resolve(api, values[name])
            except nc_refs.UnknownReference as exc:
                errors[name] = str(exc)
    return ids, errors


@router.get("/subscriptions/{subscription_id}", include_in_schema=False)
async def detail(request: Request, user: CurrentUser, api: Api, subscription_id: str,
                 status: str = "", cursor: str = "") -> Response:
    sub_id = _valid_id(subscription_id)
    subscription = await api.get("notifications", f"/v1/subscriptions/{sub_id}")
    status = status if status in DELIVERY_STATUSES else ""
    deliveries = await api.get("notifications", "/v1/deliveries", subscription_id=sub_id,
                               status=status, cursor=cursor[:500], limit=PAGE_SIZE)
    next_query = None
    if deliveries.get("next_cursor"):
        next_query = {"cursor": deliveries["next_cursor"]} | ({"status": status} if status
                                                                else {})
    secret = await session_store(request).take_secret(user, sub_id)
    return render(request, "sub_detail.html", title=f"Subscription {subscription['target']}",
                  sub=subscription, secret=secret,
                  deliveries=deliveries["items"], status=status, statuses=DELIVERY_STATUSES,
                  next_query=next_query, paged=bool(cursor), overlaps=OVERLAPS)


async def _act(user: CsrfUser, api: Api, subscription_id: str, method: str, path: str,
               body: Any, done: str) -> Response:
    sub_id = _valid_id(subscription_id)
    try:
        await api.send("notifications", method, f"/v1/subscriptions/{sub_id}{path}", body)
        user.flash(done, "ok")
    except ApiError as exc:
        user.flash(_refusal(exc), "error")
    return redirect(f"/subscriptions/{sub_id}")


@router.post("/subscriptions/{subscription_id}/test", include_in_schema=False)
async def send_test(_request: Request, user: CsrfUser, api: Api,
                    subscription_id: str) -> Response:
    return await _act(user, api, subscription_id, "POST", "/test", None,
                      "Test event queued; its delivery is listed below.")


@router.post("/subscriptions/{subscription_id}/active", include_in_schema=False)
async def set_active(request: Request, user: CsrfUser, api: Api,
                     subscription_id: str) -> Response:
    active = (await posted(request)).get("active") == "true"
    return await _act(user, api, subscription_id, "PATCH", "", {"active": active},
                      "Subscription resumed." if active else "Subscription paused.")


@router.post("/subscriptions/{subscription_id}/rotate-secret", include_in_schema=False)
async def rotate_secret(request: Request, user: CsrfUser, api: Api,
                        subscription_id: str) -> Response:
    sub_id = _valid_id(subscription_id)
    overlap = (await posted(request)).get("overlap_seconds", "86400")
    if overlap not in {value for value, _ in OVERLAPS}:
        overlap = "86400"
    try:
        rotated = (await api.send("notifications", "POST",
                                  f"/v1/subscriptions/{sub_id}/rotate-secret",
                                  {"overlap_seconds": int(overlap)})).body
    except ApiError as exc:
        user.flash(_refusal(exc), "error")
        return redirect(f"/subscriptions/{sub_id}")
    await session_store(request).keep_secret(user, sub_id, rotated["secret"])
    user.flash("New signing secret made.", "ok")
    return redirect(f"/subscriptions/{sub_id}")


@router.post("/subscriptions/{subscription_id}/delete", include_in_schema=False)
async def delete(request: Request, user: CsrfUser, api: Api, subscription_id: str) -> Response:
    sub_id = _valid_id(subscription_id)
    if (await posted(request)).get("confirm") != "yes":
        # Without JavaScript there is no confirm() dialog: the form has a checkbox.
        user.flash("Tick “Yes, delete it” to delete the subscription.", "error")
        return redirect(f"/subscriptions/{sub_id}")
    try:
        await api.send("notifications", "DELETE", f"/v1/subscriptions/{sub_id}")
    except ApiError as exc:
        user.flash(_refusal(exc), "error")
        return redirect(f"/subscriptions/{sub_id}")
    user.flash("Subscription deleted.", "ok")
    return redirect("/subscriptions")


@router.post("/subscriptions/{subscription_id}/deliveries/{delivery_id}/retry",
             include_in_schema=False)
async def retry_delivery(_request: Request, user: CsrfUser, api: Api, subscription_id: str,
                         delivery_id: str) -> Response:
    sub_id, del_id = _valid_id(subscription_id), _valid_id(delivery_id)
    try:
        await api.send("notifications", "POST", f"/v1/deliveries/{del_id}/retry")
        user.flash("Delivery queued again (same webhook-id, a fresh retry schedule).", "ok")
    except ApiError as exc:
        user.flash(_refusal(exc), "error")
    return redirect(f"/subscriptions/{sub_id}")
