"""Quality objectives (ISO 9001 6.2): managers define them, people read their progress."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse

from shared.auth import Principal
from shared.http.auth import require_roles
from shared.http.concurrency import IfMatch

from ..domain.objectives import METRICS
from ..schemas_review import (
    MetricList,
    MetricPublic,
    ObjectiveCreate,
    ObjectiveList,
    ObjectivePublic,
    ObjectiveUpdate,
)
from ..service.objectives import (
    create_objective,
    delete_objective,
    get_objective,
    list_objectives,
    update_objective,
)
from .deps import NowDep, Reader, SessionsDep, with_etag

router = APIRouter(prefix="/v1/objectives", tags=["objectives"])
# A path of its own: under /v1/objectives, "metrics" would also be read as an
# objective's id by PATCH and DELETE (a 422 where no such method exists: 405).
metrics_router = APIRouter(prefix="/v1/objective-metrics", tags=["objectives"])
Manager = Annotated[Principal, Depends(require_roles("manager"))]


@router.post("", status_code=201, response_model=ObjectivePublic,
             summary="Define a quality objective: a metric of the allow-list, target, deadline")
async def create(body: ObjectiveCreate, sessions: SessionsDep, principal: Manager,
                 now: NowDep) -> JSONResponse:
    view = await create_objective(sessions, request=body, principal=principal, now=now)
    return with_etag(view, view.version, status_code=201, location=f"/v1/objectives/{view.id}")


@router.get("", response_model=ObjectiveList,
            summary="Every objective with its progress (current value, trend, on/off track)")
async def search(sessions: SessionsDep, _: Reader, now: NowDep) -> ObjectiveList:
    return ObjectiveList(items=await list_objectives(sessions, now=now))


@metrics_router.get("", response_model=MetricList,
            summary="The metrics an objective may name, with their labels and units")
async def metrics(_: Reader) -> MetricList:
    """The definition form reads the allow-list here rather than keeping its own copy."""
    return MetricList(items=[MetricPublic(name=m.name, label=m.label, unit=m.unit,
                                          direction=m.direction, upper_bound=m.upper_bound,
                                          takes_source=m.takes_source)
                             for m in METRICS.values()])


@router.get("/{objective_id}", response_model=ObjectivePublic)
async def read(objective_id: UUID, sessions: SessionsDep, _: Reader,
               now: NowDep) -> JSONResponse:
    view = await get_objective(sessions, objective_id=objective_id, now=now)
    return with_etag(view, view.version)


@router.patch("/{objective_id}", response_model=ObjectivePublic,
              summary="Change title, target, deadline, period or owner (If-Match)")
async def edit(objective_id: UUID, body: ObjectiveUpdate, sessions: SessionsDep,
               _: Manager, now: NowDep, if_match: IfMatch) -> JSONResponse:
    view = await update_objective(sessions, objective_id=objective_id, request=body,
                                  if_match=if_match, now=now)
    return with_etag(view, view.version)


@router.delete("/{objective_id}", status_code=204, response_class=Response,
               summary="Remove an objective (If-Match)")
async def remove(objective_id: UUID, sessions: SessionsDep, _: Manager,
                 if_match: IfMatch) -> Response:
    await delete_objective(sessions, objective_id=objective_id, if_match=if_match)
    return Response(status_code=204)
