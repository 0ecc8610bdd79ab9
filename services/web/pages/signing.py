"""Signing a move in the UI (docs/signatures.md): review, re-authenticate, apply.

A signed move is never sent with the token the person has had since they
signed in: Part 11 §11.200 wants the signer to authenticate *for* the signature.
So the form's move (root-cause approval, effectiveness verification, closure),
with the meaning the person chose, is first shown back to them as exactly what
they will sign (``capa_sign.html``). Its "re-authenticate and sign" link goes to
the provider with ``prompt=login`` and ``max_age=0``; the move waits sealed in
the sign-in flow (SessionStore.begin_sign_in), and the callback
(oidc_sign_in.py) applies it with the fresh access token, whose ``auth_time`` is
now, only when the person who authenticated is the person whose session asked.
"""

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from ..client import ApiClient, ApiError, UserApi
from ..deps import redirect, render, session_store
from ..oidc_login import OidcLogin, Tokens
from ..session import UserSession
from .capas import render_capa
from .forms import FormState

FLOW_COOKIE = "capaflow_oidc_flow"

MEANING_LABELS = {"authorship": "Authorship: I wrote this", "review": "Review: I reviewed this",
                  "approval": "Approval: I approve this",
                  "responsibility": "Responsibility: I take responsibility for this"}
# The meanings each signed move takes (the capa domain's table, domain.signatures).
MOVE_MEANINGS = {"root_cause_approval": ("approval", "review"),
                 "effectiveness_verification": ("authorship", "review", "responsibility"),
                 "closure": ("approval", "responsibility")}
WHAT = {"root_cause_approval": "Approve the root-cause analysis (and plan actions)",
        "effectiveness_verification": "Record the effectiveness verification",
        "closure": "Close the CAPA"}


def meaning_options(move: str) -> list[tuple[str, str]]:
    return [(m, MEANING_LABELS[m]) for m in MOVE_MEANINGS[move]]


def can_sign(request: Request, user: UserSession) -> bool:
    """Only a person signed in at the provider can sign; an API key never can."""
    return request.app.state.oidc_login is not None and user.principal.method == "oidc"


async def review(request: Request, api: UserApi, user: UserSession, capa_id: str, *,
                 form: str, move: str, path: str, body: dict[str, Any],
                 meaning: str) -> Response:
    """The page that shows what will be signed, with the link to re-authenticate."""
    login: OidcLogin | None = request.app.state.oidc_login
    if login is None or not can_sign(request, user) or meaning not in MOVE_MEANINGS[move]:
        message = ("Signing needs you signed in through your company account; an API-key "
                   "session cannot sign." if meaning in MOVE_MEANINGS[move]
                   else "Choose one of the meanings offered for this signature.")
        return await render_capa(request, api, user, capa_id,
                                 FormState(name=form, message=message, status=403))
    capa = await api.get("capa", f"/v1/capas/{capa_id}")
    analysis = await api.get("capa", f"/v1/capas/{capa_id}/root-cause") \
        if move == "root_cause_approval" else None
    signing = {"capa_id": capa_id, "path": path, "subject": user.subject, "form": form,
               "body": body | {"signature": {"meaning": meaning}}}
    flow, state, nonce, verifier = await session_store(request).begin_sign_in(
        f"/capas/{capa_id}", signing)
    url = await login.authorization_url(redirect_uri=redirect_uri(request), state=state,
                                        nonce=nonce, code_verifier=verifier, fresh=True)
    response = render(request, "capa_sign.html", title=f"Sign: {capa['number']}", capa=capa,
                      what=WHAT[move], move=move, body=body, analysis=analysis,
                      meaning=meaning, meaning_label=MEANING_LABELS[meaning],
                      signer=user.principal.name or user.subject, subject=user.subject,
                      provider=login.provider_name, url=url)
    response.set_cookie(FLOW_COOKIE, flow, httponly=True, samesite="lax", max_age=600,
                        secure=request.app.state.settings.cookie_secure, path="/sign-in/oidc")
    return response


def redirect_uri(request: Request) -> str:
    configured: str | None = request.app.state.settings.oidc_redirect_url
    return configured or str(request.url_for("oidc_callback"))


async def apply_signed(request: Request, user: UserSession | None, signing: dict[str, Any],
                       subject: str, tokens: Tokens) -> Response:
    """The callback of a signing flow: the move, sent with the fresh token."""
    capa_id = str(signing["capa_id"])
    if user is None or user.subject != signing["subject"] or subject != user.subject:
        # Someone else authenticated (or the session ended): nobody signs for another.
        if user is not None:
            user.flash("The re-authentication was not yours; nothing was signed.", "error")
        return redirect(f"/capas/{capa_id}" if user else "/sign-in")
    await session_store(request).renew_tokens(user, tokens.access_token, tokens.refresh_token,
                                              tokens.expires_at)
    client: ApiClient = request.app.state.api
    api = client.as_user(user.key)
    try:
        await api.send("capa", "POST", f"/v1/capas/{capa_id}{signing['path']}",
                       signing["body"])
    except ApiError as exc:
        user.flash(f"Not signed: {exc.detail}", "error")
        return redirect(f"/capas/{capa_id}#signatures")
    user.flash("Signed.", "ok")
    return redirect(f"/capas/{capa_id}#signatures")
