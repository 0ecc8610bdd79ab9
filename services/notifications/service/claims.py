"""Claims: which worker process attempts a delivery, across replicas.

An attempt starts only after one conditional UPDATE claimed its row for this
worker (``claimed_by``, ``claim_expires_at``) and returned what the attempt
needs. The row must be pending, due, free (unclaimed, or its claim expired)
and the head of its queue — no pending delivery of the same (subscription,
subject) before it — so per-queue order holds across replicas as it does
within one. On PostgreSQL the candidates are picked ``FOR UPDATE SKIP
LOCKED``: two replicas claiming at once skip each other's rows instead of
waiting, and a row is claimed by one of them only.

A claim lasts longer than an attempt may (deadline + margin). Recording the
result clears it, and only the claimant may record (``attempts.record``).
A replica killed mid-attempt leaves its claims until they expire; another
replica then sends those deliveries again, once: at-least-once, with the
same webhook-id for receivers to drop the duplicate.
"""

import os
import secrets
import socket
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, cast
from uuid import UUID

from sqlalchemy import Boolean, String, Table, and_, exists, func, literal_column, or_, update
from sqlalchemy import select as sa_select
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import UTCDateTime, utcnow

from ..domain import DeliveryStatus
from ..models import Delivery, Subscription
from .attempts import Due, Key

PENDING = DeliveryStatus.pending.value
DELIVERIES = cast(Table, Delivery.__table__)  # type: ignore[attr-defined]


def new_worker_id() -> str:
    """host:pid:random — readable in ``claimed_by``, unique per worker even across restarts."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


def _claimed_columns() -> tuple[Any, ...]:
    """:class:`Due` columns of the claimed row, then whether more wait behind it."""

    # Written out: SQLAlchemy renders RETURNING without table names on SQLite,
    # which would make these correlated subqueries compare a column with itself.
    def of_subscription(column: str, type_: Any = None) -> Any:
        return literal_column(f"(SELECT s.{column} FROM subscriptions AS s "
                              "WHERE s.id = deliveries.subscription_id)", type_ or String())

    more = literal_column(
        "EXISTS (SELECT 1 FROM deliveries AS later "
        "WHERE later.subscription_id = deliveries.subscription_id "
        f"AND later.subject = deliveries.subject AND later.status = '{PENDING}' "
        "AND later.id != deliveries.id)", Boolean())
    return (col(Delivery.id), col(Delivery.subscription_id), col(Delivery.subject),
            col(Delivery.event_id), col(Delivery.event_type), col(Delivery.payload),
            col(Delivery.attempts), of_subscription("channel"), of_subscription("target"),
            of_subscription("secret"), of_subscription("previous_secret"),
            of_subscription("previous_secret_expires_at", UTCDateTime()),
            of_subscription("watching"), more)


def heads_query(worker: str, limit: int) -> Any:
    """The full dispatch's look at every queue: (id, subscription id, subject, how many
    pending) of each due head, oldest due first; cheap, no payloads. Heads claimed by
    another live worker are left out; this worker's own are in (its queues in flight)."""
    heads = (sa_select(col(Delivery.subscription_id).label("sid"),
                       col(Delivery.subject).label("subj"),
                       func.min(Delivery.seq).label("seq"), func.count().label("queued"))
             .where(col(Delivery.status) == PENDING)
             .group_by(col(Delivery.subscription_id), col(Delivery.subject)).subquery())
    now = utcnow()
    return (sa_select(col(Delivery.id), col(Delivery.subscription_id), col(Delivery.subject),
                      heads.c.queued)
            .join(heads, and_(col(Delivery.subscription_id) == heads.c.sid,
                              col(Delivery.subject) == heads.c.subj,
                              col(Delivery.seq) == heads.c.seq))
            .join(Subscription, col(Subscription.id) == col(Delivery.subscription_id))
            .where(col(Delivery.status) == PENDING, col(Subscription.active).is_(True),
                   col(Delivery.next_attempt_at) <= now,
                   or_(col(Delivery.claimed_by).is_(None), col(Delivery.claimed_by) == worker,
                       col(Delivery.claim_expires_at) <= now))
            .order_by(col(Delivery.next_attempt_at)).limit(limit))


async def claim(session: AsyncSession, *, worker: str, lease: timedelta, limit: int,
                ids: Sequence[UUID] | None = None, key: Key | None = None
                ) -> list[tuple[Due, bool]]:
    """Claim the claimable rows among ``ids`` (or the head of queue ``key``), at most
    ``limit``; returns each claimed row and whether more wait behind it in its queue."""
    now = utcnow()
    candidates = DELIVERIES.alias("cand")
    cand, older = candidates.c, DELIVERIES.alias("older").c
    is_head = ~exists().where(
        older.subscription_id == cand.subscription_id, older.subject == cand.subject,
        older.status == PENDING,
        # Digests of one subscription may share a seq: the id breaks the tie.
        or_(older.seq < cand.seq, and_(older.seq == cand.seq, older.id < cand.id)))
    active = exists().where(col(Subscription.id) == cand.subscription_id,
                            col(Subscription.active).is_(True))
    which = ([cand.id.in_(list(ids))] if ids is not None else
             [cand.subscription_id == key[0], cand.subject == key[1]] if key is not None else [])
    picked = (sa_select(cand.id)
              .where(*which, cand.status == PENDING, cand.next_attempt_at <= now,
                     or_(cand.claimed_by.is_(None), cand.claim_expires_at <= now),
                     active, is_head)
              .order_by(cand.next_attempt_at).limit(limit)
              # Ignored by SQLite, whose one writer at a time serialises claims anyway.
              .with_for_update(of=candidates, skip_locked=True))
    rows = (await session.exec(update(Delivery)
                               .where(col(Delivery.id).in_(picked))
                               .values(claimed_by=worker, claim_expires_at=now + lease)
                               .returning(*_claimed_columns())
                               .execution_options(synchronize_session=False))).all()
    return [(Due(*row[:-1]), bool(row[-1])) for row in rows]


async def release(session: AsyncSession, delivery_id: UUID, worker: str) -> None:
    """Give a claimed, unattempted delivery back (any worker may claim it at once)."""
    await session.exec(update(Delivery)
                       .where(col(Delivery.id) == delivery_id,
                              col(Delivery.claimed_by) == worker)
                       .values(claimed_by=None, claim_expires_at=None)
                       .execution_options(synchronize_session=False))


async def release_all(session: AsyncSession, worker: str) -> int:
    """Give back every pending delivery ``worker`` still holds: called when it
    stops, so other replicas take them at once instead of after the lease."""
    result = await session.exec(update(Delivery)
                                .where(col(Delivery.claimed_by) == worker,
                                       col(Delivery.status) == DeliveryStatus.pending.value)
                                .values(claimed_by=None, claim_expires_at=None)
                                .execution_options(synchronize_session=False))
    return int(result.rowcount or 0)
