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
# A calendar month 1900-01 .. 9998-12, stated in the schema so a client (and the
# fuzz test) can tell a valid month from one the service refuses.
MONTH_PATTERN = (r"^(19[0-9]{2}|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])"
                 r"-(0[1-9]|1[0-2])$")


@router.get("/preview", summary="The month's bulletin e-mail as subscribers get it; not sent")
async def preview(sessions: SessionsDep, settings: SettingsDep, _: Manager,
                  month: Annotated[str, Query(
                      max_length=7, pattern=MONTH_PATTERN,
                      description="YYYY-MM (UTC), 1900-01 to 9998-12")]) -> dict[str, Any]:
    links = Links(settings.public_base_url, settings.nonconformity_base_url,
                  settings.ui_base_url)
    return await preview_bulletin(sessions, month=month, links=links,
                                  sender=settings.mail_from)
