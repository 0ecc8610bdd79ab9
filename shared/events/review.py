"""Management-review events (ISO 9001 6.2, 9.3) the CAPA service publishes on
``capa.events``: quality objectives going off and back on track, review meetings
and their decisions. Keyed by the objective or the meeting, so each one's
events stay in order."""

from datetime import date, datetime
from typing import ClassVar
from uuid import UUID

from shared.events.base import CAPA_TOPIC, EventData


class ObjectiveTrackEvent(EventData):
    topic: ClassVar[str] = CAPA_TOPIC
    subject_field: ClassVar[str] = "objective_id"

    objective_id: UUID
    title: str
    metric: str
    # "at_most" or "at_least"
    direction: str
    target: float
    deadline: date
    # The latest period's value, and the trend's projection to the deadline (if made).
    current: float | None = None
    projected: float | None = None
    reason: str
    owner: str | None = None
    changed_at: datetime
    # The metric as people read it and its unit ("days", "count", "ratio",
    # "per_week"), so a message shows "12.5 days", not 12.5. Optional (older events
    # lack them), which keeps the version (DESIGN §2).
    metric_label: str | None = None
    unit: str | None = None


class ObjectiveOffTrack(ObjectiveTrackEvent):
    """An objective went off track (once per transition; domain.objectives)."""

    event_type: ClassVar[str] = "capaflow.objective.off_track.v1"


class ObjectiveBackOnTrack(ObjectiveTrackEvent):
    """An objective that was off track is on track again."""

    event_type: ClassVar[str] = "capaflow.objective.on_track.v1"


class ManagementReviewRecorded(EventData):
    event_type: ClassVar[str] = "capaflow.management_review.recorded.v1"
    topic: ClassVar[str] = CAPA_TOPIC
    subject_field: ClassVar[str] = "review_id"

    review_id: UUID
    held_on: date
    attendees: list[str]
    # The pack the meeting used: its period and the SHA-256 of its JSON.
    pack_since: datetime
    pack_until: datetime
    pack_sha256: str
    decisions: int
    recorded_by: str
    recorded_at: datetime
    # The decisions' texts in their order, so the message lists them (optional).
    decision_texts: list[str] = []


class ReviewDecisionMade(EventData):
    """One decision of a review; ``capa_id``/``action_id`` when it opened one."""

    event_type: ClassVar[str] = "capaflow.review_decision.made.v1"
    topic: ClassVar[str] = CAPA_TOPIC
    subject_field: ClassVar[str] = "review_id"

    review_id: UUID
    decision_id: UUID
    sequence: int
    text: str
    owner: str
    due_date: date
    capa_id: UUID | None = None
    action_id: UUID | None = None
    made_at: datetime
    # The meeting's date and the CAPA the decision opened or added an action to,
    # so a message says what was decided when and what it started (optional).
    held_on: date | None = None
    capa_number: str | None = None
    capa_title: str | None = None


EVENTS: tuple[type[EventData], ...] = (ObjectiveOffTrack, ObjectiveBackOnTrack,
                                       ManagementReviewRecorded, ReviewDecisionMade)
