"""Tables of the notifications service (its own database)."""

from datetime import datetime
from uuid import UUID, uuid4

from sqlalchemy import BigInteger, Column, Index, Text, UniqueConstraint
from sqlalchemy import String as SAString
from sqlmodel import Field, SQLModel

from shared.db import UTCDateTime
from shared.idempotency import IdempotencyRecord
from shared.inbox import ProcessedEvent
from shared.outbox import OutboxMessage

__all__ = ["Delivery", "IdempotencyRecord", "OutboxMessage", "ProcessedEvent",
           "ReceivedEvent", "Subscription", "SubscriptionsRevision", "metadata"]


class Subscription(SQLModel, table=True):
    __tablename__ = "subscriptions"
    # One owner-notice subscription per person (NULL purposes never collide).
    __table_args__ = (Index("uq_subscriptions_owner_purpose", "owner", "purpose",
                            unique=True),
                      # Watching a record twice is one subscription (NULLs never collide).
                      Index("uq_subscriptions_owner_watching", "owner", "watching",
                            unique=True))

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    owner: str = Field(max_length=255, index=True)
    channel: str = Field(sa_type=SAString(16))
    target: str = Field(max_length=2000)
    mode: str = Field(default="immediate", sa_type=SAString(16))
    active: bool = True
    # JSON of domain.EventFilter fields.
    filter: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    description: str | None = Field(default=None, max_length=500)
    # Webhook signing secrets. Stored as they are: HMAC needs the secret itself.
    secret: str | None = Field(default=None, max_length=255)
    previous_secret: str | None = Field(default=None, max_length=255)
    previous_secret_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    disabled_reason: str | None = Field(default=None, max_length=500)
    last_digest_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    # None: a subscription someone asked for. "owner_notices": the service's own
    # carrier of a person's owner notices (service.owner_notices), matched by no
    # filter and not shown by the subscriptions API; its deliveries are the owner's.
    purpose: str | None = Field(default=None, sa_type=SAString(16))
    # "capa:<id>" / "nonconformity:<id>": a person watching that record
    # (domain.watches); None for every other subscription.
    watching: str | None = Field(default=None, max_length=64)


class SubscriptionsRevision(SQLModel, table=True):
    """One row, bumped in every transaction that changes what subscriptions match.

    Each process keeps the parsed filters in memory (``matching.py``) and
    compares this number, read with every consumed event, to know they are
    current, whichever process (API replica or worker) made the change.
    """

    __tablename__ = "subscriptions_revision"

    id: int = Field(default=1, primary_key=True, sa_column_kwargs={"autoincrement": False})
    revision: int = Field(default=0, sa_type=BigInteger)


class ReceivedEvent(SQLModel, table=True):
    """Every consumed event, numbered: stream positions, feeds and digests read it."""

    __tablename__ = "received_events"

    position: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=255, unique=True)
    event_type: str = Field(max_length=255, index=True)
    subject: str = Field(default="", max_length=255)
    # The whole CloudEvent as structured JSON (what webhooks receive).
    envelope: str = Field(sa_column=Column(Text, nullable=False))
    received_at: datetime = Field(sa_type=UTCDateTime, index=True)


class Delivery(SQLModel, table=True):
    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id", name="uq_deliveries_subscription_event"),
        Index("ix_deliveries_queue", "status", "subscription_id", "subject", "seq"),
        Index("ix_deliveries_listing", "created_at", "id"),
    )

    # Also the webhook-id: the same on every retry.
    id: UUID = Field(default_factory=uuid4, primary_key=True)
    subscription_id: UUID = Field(foreign_key="subscriptions.id", ondelete="CASCADE")
    event_id: str = Field(max_length=255)
    event_type: str = Field(max_length=255)
    # Order key: deliveries of one (subscription, subject) go out in seq order.
    subject: str = Field(max_length=255)
    seq: int = 0
    payload: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default="pending", sa_type=SAString(16))
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=1000)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    # The worker process attempting it now, and until when that claim holds.
    claimed_by: str | None = Field(default=None, max_length=64)
    claim_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


metadata = SQLModel.metadata
