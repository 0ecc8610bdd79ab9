"""The lessons-learned bulletin for operators: a preview, nothing sent."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from shared.auth import Principal
from shared.http.auth import require_roles

from ..service.bulletin_preview import preview_bulletin
from ..service.messages import Links
from .deps import SessionsDep, SettingsDep

router = APIRouter(prefix="/v1/bulletins", tags=["bulletins"])
Manager = Annotated[Principal, Depends(require_roles("manager"))]


@router.get("/preview", summary="The month's bulletin e-mail as subscribers get it; not sent")
async def preview(sessions: SessionsDep, settings: SettingsDep, _: Manager,
                  month: Annotated[str, Query(max_length=16,
                                              description="YYYY-MM (UTC)")]) -> dict[str, Any]:
    links = Links(settings.public_base_url, settings.nonconformity_base_url,
                  settings.ui_base_url)
    return await preview_bulletin(sessions, month=month, links=links,
                                  sender=settings.mail_from)
