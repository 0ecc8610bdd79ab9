"""API request/response models: XCreate / XUpdate / XPublic families."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.json_schema import SkipJsonSchema

from shared.events.base import Severity
from shared.inputs import NO_NUL

from .domain import Channel, DeliveryMode, DeliveryStatus
from .domain.targets import ANY_TARGET, EMAIL_TARGET, TARGET_NOT_ALLOWED, WEB_TARGET
from .domain.watches import Record

Pattern = Annotated[str, StringConstraints(min_length=1, max_length=200,
                                           pattern=r"^[A-Za-z0-9_.*?\[\]!-]+$")]
Word = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=NO_NUL)]
Description = Annotated[str, StringConstraints(max_length=500, pattern=NO_NUL)]
Label = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NO_NUL)]


class Strict(BaseModel):
    # A misspelt field is an error, never silently dropped (DESIGN.md §6).
    model_config = ConfigDict(extra="forbid")


class SubscriptionFilter(Strict):
    event_types: list[Pattern] = Field(default=[], max_length=50, description=(
        "Glob patterns on the CloudEvents type, e.g. 'capaflow.capa.*'. Empty: every type."))
    min_severity: Severity | None = None
    sources: list[Word] = Field(default=[], max_length=50)
    categories: list[Word] = Field(default=[], max_length=50)
    tags: list[Word] = Field(default=[], max_length=50, description="Any of these tags.")
    owners: list[Word] = Field(default=[], max_length=50)
    nonconformity_id: UUID | None = None
    capa_id: UUID | None = None


class SubscriptionCreate(Strict):
    # The target's shape per channel (service.check_subscription_target checks the
    # same patterns): an e-mail address, or an http(s) URL for webhook and Slack.
    model_config = ConfigDict(json_schema_extra={
        "if": {"properties": {"channel": {"const": Channel.email.value}},
               "required": ["channel"]},
        "then": {"properties": {"target": {"pattern": EMAIL_TARGET}}},
        "else": {"properties": {"target": {"pattern": WEB_TARGET}}}})

    owner: Word | None = Field(default=None, description=(
        "Defaults to the caller; only managers subscribe someone else."))
    channel: Channel
    target: str = Field(min_length=1, max_length=2000, description=(
        "Webhook or Slack incoming-webhook URL, or an e-mail address. A URL whose host "
        f"does not resolve, or resolves to a non-public address, is a 422 of type "
        f"{TARGET_NOT_ALLOWED}."))
    filter: SubscriptionFilter = SubscriptionFilter()
    active: bool = Field(default=True, strict=True)  # not 0/1 or "yes": a JSON boolean
    mode: DeliveryMode = DeliveryMode.immediate
    description: Description | None = None


class SubscriptionUpdate(Strict):
    # Either kind of target; one of the other channel's kind is a 409 (the
    # channel is stored, not sent). Left out to keep it; null is refused.
    target: Annotated[str, Field(min_length=1, max_length=2000,
                                 json_schema_extra={"pattern": ANY_TARGET})
                      ] | SkipJsonSchema[None] = None
    # Leave these out to keep them; the server refuses null (not offered here).
    filter: SubscriptionFilter | SkipJsonSchema[None] = None
    active: Annotated[bool, Field(strict=True)] | SkipJsonSchema[None] = None
    mode: DeliveryMode | SkipJsonSchema[None] = None
    description: Description | None = None


class WatchPublic(BaseModel):
    """The record a watch follows (domain.watches)."""

    record: Record
    record_id: UUID


class WatchRequest(Strict):
    """``PUT /v1/watches/{record}/{id}``: how to hear of it, and what to call it.

    No address and no owner: a watch e-mails the caller, at the address of
    their verified identity."""

    mode: DeliveryMode | SkipJsonSchema[None] = Field(default=None, description=(
        "immediate (default for a new watch), daily or weekly; left out, an existing "
        "watch keeps its mode."))
    label: Label | SkipJsonSchema[None] = Field(default=None, description=(
        "How pages name the record, e.g. 'CAPA-2026-00012 Seal leak' (kept as the "
        "subscription's description)."))


class SubscriptionPublic(BaseModel):
    id: UUID
    owner: str
    channel: Channel
    target: str
    filter: SubscriptionFilter
    active: bool
    mode: DeliveryMode
    description: str | None
    disabled_reason: str | None
    previous_secret_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime
    watch: WatchPublic | None = Field(default=None, description=(
        "Set when this subscription is the owner watching one CAPA or nonconformity."))


class SubscriptionCreated(SubscriptionPublic):
    secret: str | None = Field(description="Webhook signing secret; shown only once.")


class RotateSecret(Strict):
    overlap_seconds: int = Field(default=86400, ge=0, le=7 * 86400, description=(
        "How long deliveries are signed with both the new and the previous secret."))


class SecretRotated(BaseModel):
    secret: str
    previous_secret_expires_at: datetime


class DeliveryPublic(BaseModel):
    id: UUID
    subscription_id: UUID
    event_id: str
    event_type: str
    subject: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime


class SubscriptionPage(BaseModel):
    items: list[SubscriptionPublic]
    next_cursor: str | None


class DeliveryPage(BaseModel):
    items: list[DeliveryPublic]
    next_cursor: str | None
