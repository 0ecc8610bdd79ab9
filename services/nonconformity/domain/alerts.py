"""Alertmanager and Grafana webhook payloads, mapped to observations.

Both send Alertmanager's shape (Alertmanager ``version: "4"``; Grafana's
unified alerting adds dashboard and panel links). These models accept the
tools' extra fields: they are foreign formats we read, not our API.
"""

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, Field, WithJsonSchema, field_validator

from shared.events.base import Severity
from shared.inputs import YEAR_PATTERN, JsonInteger, iso_only, utc_in_range

from .bounds import (
    AFFECTED_ITEM_CHARS,
    CATEGORY_CHARS,
    DESCRIPTION_CHARS,
    TAG_CHARS,
    TITLE_CHARS,
    bounded,
    storable,
    web_link,
)
from .escalation import EscalationPolicy

MAX_ALERTS = 5000
# The column is an integer.
MAX_TRUNCATED = 2**31 - 1
FINGERPRINT_CHARS = 200  # the column's size
# Alertmanager sends endsAt = 0001-01-01 for an alert still firing.
_NOT_ENDED_BEFORE = 2000


# Times are ISO 8601 strings (a number such as 0 is no Alertmanager time).
# startsAt lies in 1900..9998; endsAt may also be Alertmanager's year-1 "still
# firing" marker, so any year 0001..9998.
StartTime = Annotated[datetime, BeforeValidator(iso_only), WithJsonSchema(
    {"type": "string", "format": "date-time", "pattern": YEAR_PATTERN})]
EndTime = Annotated[datetime, BeforeValidator(iso_only), WithJsonSchema(
    {"type": "string", "format": "date-time",
     "pattern": r"^(000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-8][0-9]{3}|9[0-8][0-9]{2}"
                r"|99[0-8][0-9]|999[0-8])-"})]
# Prometheus and Grafana name every alert: without an alertname the NC would
# be titled "alert" and every nameless alert would look alike.
Labels = Annotated[dict[str, str], WithJsonSchema({
    "type": "object", "additionalProperties": {"type": "string"},
    "properties": {"alertname": {"type": "string", "pattern": r"\S"}},
    "required": ["alertname"]})]


class Alert(BaseModel):
    status: Literal["firing", "resolved"]
    labels: Labels
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: StartTime
    endsAt: EndTime | None = None
    generatorURL: str = ""
    fingerprint: str = Field(min_length=1)

    @field_validator("labels")
    @classmethod
    def _named(cls, labels: dict[str, str]) -> dict[str, str]:
        if not labels.get("alertname", "").strip():
            raise ValueError("an alert needs an alertname label")
        return labels

    @field_validator("fingerprint", mode="before")
    @classmethod
    def _storable(cls, value: object) -> object:
        # Before the string checks, which cannot read a lone surrogate: like every
        # other text of the alert it becomes U+FFFD instead of refusing the batch.
        return storable(value) if isinstance(value, str) else value

    @field_validator("fingerprint")
    @classmethod
    def _fits_the_column(cls, value: str) -> str:
        # Alertmanager's are 16 hex digits; a longer one from another tool is kept as
        # its digest, which fits the column and still names the same alert every time
        # (cutting it could merge two alerts, refusing it would refuse the whole batch).
        if len(value) <= FINGERPRINT_CHARS:
            return storable(value)  # NUL and lone surrogates: no database holds them
        return "sha256:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()

    @field_validator("startsAt")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        # Alertmanager always sends a zone; a hand-made payload may not: read it as UTC.
        # Outside 1900..9998 (or no UTC time at all) is a 422, not a 500.
        return utc_in_range(value)

    @field_validator("endsAt")
    @classmethod
    def _utc_or_not_ended(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        try:
            return utc_in_range(value)
        except ValueError:
            # Alertmanager's "still firing" is year 1; any zone on it means the same.
            if value.year <= _NOT_ENDED_BEFORE:
                return None
            raise

    # Grafana only.
    dashboardURL: str | None = None
    panelURL: str | None = None
    silenceURL: str | None = None
    valueString: str | None = None


class AlertmanagerPayload(BaseModel):
    version: Literal["4"]
    groupKey: str = ""
    truncatedAlerts: JsonInteger = Field(default=0, ge=0, le=MAX_TRUNCATED)
    status: Literal["firing", "resolved"]
    receiver: str = ""
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str = ""
    alerts: list[Alert] = Field(max_length=MAX_ALERTS)


class GrafanaPayload(BaseModel):
    version: str = "1"
    groupKey: str = ""
    truncatedAlerts: JsonInteger = Field(default=0, ge=0, le=MAX_TRUNCATED)
    status: Literal["firing", "resolved"]
    receiver: str = ""
    orgId: JsonInteger | None = None
    title: str | None = None
    message: str | None = None
    externalURL: str = ""
    alerts: list[Alert] = Field(max_length=MAX_ALERTS)


@dataclass(frozen=True)
class Observation:
    """One alert as the intake sees it."""

    fingerprint: str
    firing: bool
    title: str
    description: str | None
    severity: Severity
    started_at: datetime
    ended_at: datetime | None
    category: str
    affected_item: str | None
    tags: list[str] = field(default_factory=list)
    links: list[dict[str, str]] = field(default_factory=list)


def observe(alert: Alert, *, policy: EscalationPolicy, severity_label: str) -> Observation:
    """One alert as an observation. Every text taken from the payload is bounded
    (cut with a marker, see bounds.bounded) to its column, so no alert is refused
    for its size and no event it causes grows past the outbox's maximum."""
    labels, notes = alert.labels, alert.annotations
    name = labels.get("alertname") or "alert"
    summary = notes.get("summary") or notes.get("title")
    title = f"{name}: {summary}" if summary else name
    ended = alert.endsAt if alert.endsAt and alert.endsAt.year > _NOT_ENDED_BEFORE else None
    links = [{"url": url, "title": kind} for kind, url in (
        ("generator", web_link(alert.generatorURL)), ("dashboard", web_link(alert.dashboardURL)),
        ("panel", web_link(alert.panelURL))) if url]
    return Observation(
        fingerprint=alert.fingerprint,
        firing=alert.status == "firing",
        title=bounded(title if len(title.strip()) >= 3 else f"alert {title}",
                      TITLE_CHARS) or name,
        description=bounded(notes.get("description") or alert.valueString, DESCRIPTION_CHARS),
        severity=policy.severity_from_label(labels.get(severity_label)),
        started_at=alert.startsAt,
        ended_at=ended,
        category=bounded(labels.get("category") or name, CATEGORY_CHARS) or name,
        affected_item=bounded(labels.get("service") or labels.get("job")
                              or labels.get("instance") or None, AFFECTED_ITEM_CHARS),
        # A tag is a filter value, not prose: cut plainly, no marker.
        tags=[storable(f"alertname:{name}")[:TAG_CHARS]],
        links=links,
    )
