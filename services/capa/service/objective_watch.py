"""The objective watch job: announce an objective going off track, and back on.

Like the reminders (service.reminders), it runs in every replica and must emit
each transition once. The objective's row holds the last state recorded; one
transaction per objective locks that row (FOR UPDATE on PostgreSQL, SQLite's
BEGIN IMMEDIATE), compares the state computed from the data with the stored one
and, if it changed, stores the new one *and* records the event together. A
second replica waits for the lock, then finds the state already stored and
emits nothing. Progress is measured once per tick over all objectives, outside
the locks; the comparison is what is serialized.
"""

import logging
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from shared.db import SessionFactory, transaction
from shared.events.review import ObjectiveBackOnTrack, ObjectiveOffTrack
from shared.outbox import record_event

from ..domain.objectives import METRICS, Progress, TrackState, is_news, transition
from ..domain.review_labels import metric_words
from ..models_review import QualityObjective
from .objectives import measured_objectives

log = logging.getLogger(__name__)
SERVICE = "capa"


@dataclass(frozen=True)
class WatchReport:
    off_track: int
    back_on_track: int


async def _record_transition(sessions: SessionFactory, objective_id: UUID,
                             measured: Progress, now: datetime) -> TrackState | None:
    """Store the new state and its event if it still changes the stored one."""
    async with transaction(sessions) as session:
        row = await session.get(QualityObjective, objective_id, with_for_update=True,
                                populate_existing=True)
        if row is None:
            return None  # removed since the look-up
        stored = TrackState(row.track_state) if row.track_state else None
        new = transition(stored, measured.state)
        if new is None:
            return None
        row.track_state, row.track_changed_at = new.value, now
        session.add(row)
        if not is_news(stored, new):
            return None
        metric = METRICS[row.metric]
        kind = ObjectiveOffTrack if new is TrackState.off_track else ObjectiveBackOnTrack
        record_event(session, service=SERVICE, data=kind(
            objective_id=row.id, title=row.title, metric=row.metric,
            direction=metric.direction.value, target=row.target, deadline=row.deadline,
            current=measured.current, projected=measured.projected, reason=measured.reason,
            owner=row.owner, changed_at=now, metric_label=metric_words(metric),
            unit=metric.unit))
        return new


async def watch_objectives(sessions: SessionFactory, *, now: datetime) -> WatchReport:
    """Judge every objective and announce each transition once (see the module doc)."""
    async with sessions() as session:
        measured = [(row.id, progress)
                    for row, progress in await measured_objectives(session, now=now)]
    off = back = 0
    for objective_id, progress in measured:
        announced = await _record_transition(sessions, objective_id, progress, now)
        off += announced is TrackState.off_track
        back += announced is TrackState.on_track
    if off or back:
        log.info("objectives: %d went off track, %d came back on track", off, back)
    return WatchReport(off_track=off, back_on_track=back)
