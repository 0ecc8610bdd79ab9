"""Deleting a subscription takes its delivery rows in the recorder's lock order, so it
cannot deadlock with a batch recording results of those deliveries (PostgreSQL)."""

import asyncio
import uuid
from datetime import timedelta

import asyncpg
from sqlmodel import select

from services.notifications.domain import AttemptResult, Outcome
from services.notifications.models import Delivery, Subscription
from services.notifications.service.attempts import Due, record
from services.notifications.service.subscriptions import delete_subscription, new_secret
from services.notifications.settings import NotificationsSettings
from shared.auth import Principal
from shared.db import create_engine, session_factory, transaction, utcnow
from tests.conftest import DatabaseFactory, _asyncpg_dsn, eventually, migrate
from tests.integration.notifications.conftest import NOTIFICATIONS_MIGRATIONS

WORKER = "replica-1"
OWNER = Principal("owner@example.test", frozenset({"engineer"}))


async def test_a_delete_waits_behind_a_recording_batch_instead_of_deadlocking(
        new_postgres_database: DatabaseFactory) -> None:
    url = await new_postgres_database()
    await migrate(NOTIFICATIONS_MIGRATIONS, url)
    # Two engines: the API process deleting, the delivery worker recording.
    api_engine, worker_engine = create_engine(url, pool_size=2), create_engine(url, pool_size=2)
    api, worker = session_factory(api_engine), session_factory(worker_engine)
    observer = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        now = utcnow()
        sub = Subscription(owner=OWNER.subject, channel="webhook", target="https://hooks.example/x",
                           secret=new_secret(), created_at=now, updated_at=now)
        ids = sorted(uuid.uuid4() for _ in range(5))
        # The lowest id is written last and has the highest event id: a DELETE
        # taking rows in table order, or along (subscription_id, event_id),
        # locks all the others before it reaches that one.
        order = [(ids[i], f"event-{i}") for i in range(1, 5)] + [(ids[0], "event-9")]
        async with transaction(worker) as session:
            session.add(sub)
            await session.flush()
            for delivery_id, event_id in order:
                session.add(Delivery(id=delivery_id, subscription_id=sub.id, event_id=event_id,
                                     event_type="capaflow.capa.opened.v1", subject="s",
                                     payload="{}", created_at=now, claimed_by=WORKER,
                                     claim_expires_at=now + timedelta(hours=1)))
                await session.flush()
        dues = [Due(id=i, subscription_id=sub.id, subject="s", event_id="e",
                    event_type="capaflow.capa.opened.v1", payload="{}", attempts=0,
                    channel="webhook", target=sub.target, secret=sub.secret,
                    previous_secret=None, previous_secret_expires_at=None) for i in ids]
        delivered = AttemptResult(Outcome.delivered, status_code=204)
        settings = NotificationsSettings()

        async def delete_is_waiting() -> bool:
            return bool(await observer.fetchval(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"))

        # A recorder batch: delivery UPDATEs in id order. It holds the lowest id
        # when the delete starts, and takes the others while the delete waits.
        async with transaction(worker) as session:
            assert await record(session, dues[0], delivered, started=now, settings=settings,
                                worker=WORKER)
            deleting = asyncio.create_task(delete_subscription(api, principal=OWNER,
                                                               subscription_id=sub.id))
            await eventually(delete_is_waiting, timeout=10, interval=0.02,
                             message="the delete waiting for the batch's row lock")
            for due in dues[1:]:  # a deadlock error here (or in the delete) before the fix
                assert await record(session, due, delivered, started=now, settings=settings,
                                    worker=WORKER)
        await asyncio.wait_for(deleting, timeout=30)

        async with api() as session:
            assert (await session.exec(select(Delivery))).all() == []
            assert await session.get(Subscription, sub.id) is None
    finally:
        await observer.close()
        await api_engine.dispose()
        await worker_engine.dispose()
