"""Monitoring intake: Alertmanager, Grafana, and generic signed webhooks."""

import hashlib
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from shared.auth import Principal, source_role
from shared.http.auth import require_roles
from shared.http.errors import Problem

from ..domain.alerts import AlertmanagerPayload, GrafanaPayload, observe
from ..domain.webhooks import WebhookSource
from ..schemas import IntakeResult, NonconformityPublic
from ..service import monitoring, reporting
from .deps import PolicyDep, SessionsDep, SettingsDep

router = APIRouter(prefix="/v1/intake", tags=["intake"])

AlertmanagerSource = Annotated[Principal, Depends(require_roles(source_role("alertmanager")))]
GrafanaSource = Annotated[Principal, Depends(require_roles(source_role("grafana")))]


@router.post("/alertmanager", response_model=IntakeResult)
async def alertmanager(payload: AlertmanagerPayload, _: AlertmanagerSource,
                       sessions: SessionsDep, policy: PolicyDep,
                       settings: SettingsDep) -> IntakeResult:
    """Alertmanager's webhook receiver (``version: "4"``); point a receiver's
    ``webhook_configs.url`` here with the source token as bearer or basic-auth password."""
    observations = [observe(a, policy=policy, severity_label=settings.severity_label)
                    for a in payload.alerts]
    return await monitoring.ingest_alerts(sessions=sessions, policy=policy, tool="alertmanager",
                                          observations=observations,
                                          truncated=payload.truncatedAlerts)


@router.post("/grafana", response_model=IntakeResult)
async def grafana(payload: GrafanaPayload, _: GrafanaSource, sessions: SessionsDep,
                  policy: PolicyDep, settings: SettingsDep) -> IntakeResult:
    """Grafana alerting's webhook contact point."""
    observations = [observe(a, policy=policy, severity_label=settings.severity_label)
                    for a in payload.alerts]
    return await monitoring.ingest_alerts(sessions=sessions, policy=policy, tool="grafana",
                                          observations=observations,
                                          truncated=payload.truncatedAlerts)


@router.post("/webhooks/{source}", status_code=201, response_model=NonconformityPublic,
             responses={200: {"description": "Already reported (same external reference)"}})
async def generic_webhook(request: Request, sessions: SessionsDep, policy: PolicyDep,
                          settings: SettingsDep,
                          source: Annotated[str, Path(pattern=r"^[a-z0-9_-]{1,64}$")]
                          ) -> JSONResponse:
    """Any JSON source that signs per Standard Webhooks with its configured secret."""
    # The source and its signature are the caller's credentials: refused here,
    # at the edge, before any use case runs.
    config = settings.webhook_sources.get(source)
    if config is None:
        raise Problem(404, f"No webhook source '{source}' is configured.",
                      title="Unknown source")
    body = await request.body()
    _check_signature(config, body, dict(request.headers))
    result = await reporting.report_from_webhook(
        sessions=sessions, policy=policy, source_name=source, config=config, body=body,
        webhook_id=_stored_id(request.headers["webhook-id"]))
    nc = result.nonconformity
    return JSONResponse(nc.model_dump(mode="json"), status_code=201 if result.created else 200,
                        headers={"Location": f"/v1/nonconformities/{nc.id}"})


def _check_signature(config: WebhookSource, body: bytes, headers: dict[str, str]) -> None:
    """401 unless the signature is valid and fresh (5-minute tolerance)."""
    try:
        Webhook(config.secret).verify(body, headers, json_parse=False)
    except WebhookVerificationError as exc:
        raise _signature_rejected(str(exc)) from exc
    except ValueError as exc:
        # A body that is not UTF-8, or a malformed signature header: nothing a
        # sender following the standard would produce, so not authenticated.
        raise _signature_rejected("malformed signature or body encoding") from exc


def _signature_rejected(reason: str) -> Problem:
    return Problem(401, f"The webhook signature was not accepted: {reason}.",
                   title="Invalid signature")


def _stored_id(webhook_id: str) -> str:
    """The id as its column holds it: a longer one (the standard sets no limit) is
    kept as its digest, still one value per id, so a signed event is never a 500."""
    if len(webhook_id) <= 255:
        return webhook_id
    return "sha256:" + hashlib.sha256(webhook_id.encode("utf-8", "surrogatepass")).hexdigest()
