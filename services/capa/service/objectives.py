"""Quality objectives: define, change, remove and read them with their progress.

Progress is computed on every read from the CAPAs themselves (domain.objectives),
never stored: only the last on/off-track state is kept, for the watch job.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.auth import Principal
from shared.db import SessionFactory, transaction
from shared.errors import Conflict, Invalid, NotFound
from shared.versions import check_if_match

from ..domain import CapaStatus, EffectivenessResult
from ..domain.objectives import (
    METRICS,
    TREND_PERIODS,
    ObjectiveRuleError,
    Progress,
    TrackState,
    check_definition,
    progress,
)
from ..domain.review import CapaSnapshot, Verification
from ..domain.scorecard import ScarFacts
from ..models import Capa, EffectivenessVerification
from ..models_review import QualityObjective
from ..schemas_review import (
    ObjectiveCreate,
    ObjectivePublic,
    ObjectiveUpdate,
    ProgressPublic,
    TrendPointPublic,
)
from ..supplier_models import Scar


@dataclass(frozen=True)
class ReviewData:
    """What objectives and the review pack measure: every CAPA, verifications and
    SCARs (for the supplier response time) since."""

    capas: list[CapaSnapshot]
    verifications: list[Verification]
    scars: list[ScarFacts] = field(default_factory=list)


async def review_data(session: AsyncSession, *, since: datetime) -> ReviewData:
    """Every CAPA (a few thousand a year at most), the verifications and the SCARs
    sent from ``since``."""
    capas = (await session.exec(select(Capa))).all()
    checks = (await session.exec(select(
        EffectivenessVerification.result, EffectivenessVerification.verified_at)
        .where(col(EffectivenessVerification.verified_at) >= since))).all()
    scars = (await session.exec(select(
        col(Scar.supplier_code), col(Scar.sent_at), col(Scar.due_date),
        col(Scar.first_responded_at))
        .where(col(Scar.sent_at) >= since))).all()
    return ReviewData(
        [CapaSnapshot(status=CapaStatus(c.status), opened_at=c.opened_at, closed_at=c.closed_at,
                      due_date=c.due_date, reopen_count=c.reopen_count, source=c.source,
                      cause_category=c.cause_category, cancelled_at=c.cancelled_at)
         for c in capas],
        [Verification(result=EffectivenessResult(r), verified_at=v) for r, v in checks],
        [ScarFacts(supplier_code=code, sent_at=sent, due_date=due, first_responded_at=first,
                   accepted_at=None) for code, sent, due, first in scars])


def trend_start(objectives: list[QualityObjective], now: datetime) -> datetime:
    longest = max((o.period_days for o in objectives), default=30)
    return now - timedelta(days=longest * TREND_PERIODS)


def measure_objective(row: QualityObjective, data: ReviewData, now: datetime) -> Progress:
    return progress(METRICS[row.metric], row.target, row.deadline, period_days=row.period_days,
                    source=row.source, capas=data.capas, verifications=data.verifications,
                    now=now, scars=data.scars)


def objective_view(row: QualityObjective, measured: Progress) -> ObjectivePublic:
    metric = METRICS[row.metric]
    return ObjectivePublic(
        id=row.id, title=row.title, metric=row.metric, metric_label=metric.label,
        unit=metric.unit, direction=metric.direction, source=row.source, target=row.target,
        deadline=row.deadline, period_days=row.period_days, owner=row.owner,
        version=row.version, created_by=row.created_by, created_at=row.created_at,
        updated_at=row.updated_at,
        progress=ProgressPublic(
            current=measured.current,
            trend=[TrendPointPublic(since=p.since, until=p.until, value=p.value)
                   for p in measured.trend],
            state=measured.state, on_track=measured.state is TrackState.on_track,
            target_met=measured.target_met, projected=measured.projected,
            reason=measured.reason))


def _checked(metric: str, target: float, source: str | None) -> None:
    try:
        check_definition(metric, target, source)
    except ObjectiveRuleError as error:
        field = "source" if source is not None and "source" in str(error) else "target"
        raise Invalid(str(error), [(field, str(error))]) from error


async def _load(session: AsyncSession, objective_id: UUID, *,
                for_update: bool = False) -> QualityObjective:
    query = select(QualityObjective).where(col(QualityObjective.id) == objective_id)
    if for_update:
        query = query.with_for_update()
    row = (await session.exec(query)).first()
    if row is None:
        raise NotFound(f"There is no quality objective with id {objective_id}.")
    return row


async def _view(session: AsyncSession, row: QualityObjective, now: datetime) -> ObjectivePublic:
    data = await review_data(session, since=trend_start([row], now))
    return objective_view(row, measure_objective(row, data, now))


async def create_objective(sessions: SessionFactory, *, request: ObjectiveCreate,
                           principal: Principal, now: datetime) -> ObjectivePublic:
    _checked(request.metric, request.target, request.source)
    async with transaction(sessions) as session:
        row = QualityObjective(title=request.title, metric=request.metric,
                               source=request.source, target=request.target,
                               deadline=request.deadline, period_days=request.period_days,
                               owner=request.owner, created_by=principal.subject,
                               created_at=now, updated_at=now)
        session.add(row)
        await session.flush()
        return await _view(session, row, now)


async def update_objective(sessions: SessionFactory, *, objective_id: UUID,
                           request: ObjectiveUpdate, if_match: str | None,
                           now: datetime) -> ObjectivePublic:
    async with transaction(sessions) as session:
        row = await _load(session, objective_id, for_update=True)
        check_if_match(if_match, row.version)
        changes = request.model_dump(exclude_unset=True)
        try:
            check_definition(row.metric, changes.get("target", row.target), row.source)
        except ObjectiveRuleError as error:
            raise Conflict(str(error), metric=row.metric) from error
        for name, value in changes.items():
            setattr(row, name, value)
        row.version += 1
        row.updated_at = now
        session.add(row)
        await session.flush()
        return await _view(session, row, now)


async def delete_objective(sessions: SessionFactory, *, objective_id: UUID,
                           if_match: str | None) -> None:
    async with transaction(sessions) as session:
        row = await _load(session, objective_id, for_update=True)
        check_if_match(if_match, row.version)
        await session.delete(row)


async def get_objective(sessions: SessionFactory, *, objective_id: UUID,
                        now: datetime) -> ObjectivePublic:
    async with sessions() as session:
        return await _view(session, await _load(session, objective_id), now)


async def measured_objectives(session: AsyncSession, *, now: datetime
                              ) -> list[tuple[QualityObjective, Progress]]:
    """Every objective (a handful; a few dozen at most) with its progress, by deadline."""
    rows = list((await session.exec(select(QualityObjective).order_by(
        col(QualityObjective.deadline), col(QualityObjective.id)))).all())
    data = await review_data(session, since=trend_start(rows, now))
    return [(row, measure_objective(row, data, now)) for row in rows]


async def list_objectives(sessions: SessionFactory, *, now: datetime) -> list[ObjectivePublic]:
    async with sessions() as session:
        return [objective_view(row, measured)
                for row, measured in await measured_objectives(session, now=now)]
