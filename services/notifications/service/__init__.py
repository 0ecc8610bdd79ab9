"""Use cases, queries and event handlers of the notifications service.

The handler table (``HANDLERS``) is the one place that says which events this
service reacts to; unknown types are ignored by the consumer. Every use case
that writes commits in this package (``transaction``), never in the routers.

``subscriptions`` and ``deliveries`` are the use cases behind the API,
``queries`` its read side; ``matching`` turns consumed events into queued
deliveries, which the delivery worker (``delivery``, with ``claims``,
``attempts`` and ``recorder``) sends; ``digests``, ``stream`` and ``feeds``
are the other ways out.
"""

import asyncio

from shared.events.catalog import CAPA_TOPIC, CATALOG, NONCONFORMITY_TOPIC
from shared.inbox import HandlerTable
from shared.runtime import BackgroundJob, ServiceRuntime, Subscriptions

from ..settings import NotificationsSettings
from .bulletin import run_bulletin_schedule
from .delivery import DeliveryWorker
from .digests import run_digest_schedule
from .matching import EventMatcher
from .owner_notices import OwnerNotices

SERVICE = "notifications"
TOPICS = (NONCONFORMITY_TOPIC, CAPA_TOPIC)


def handlers(matcher: EventMatcher) -> HandlerTable:
    """Every event of the topics it reads is matched against the subscriptions."""
    return {model: matcher for model in CATALOG.values() if model.topic in TOPICS}


def owner_notices(settings: NotificationsSettings) -> OwnerNotices:
    return OwnerNotices(enabled=settings.owner_notices,
                        email_domain=settings.owner_email_domain)


def consumers(settings: NotificationsSettings, *,
              matcher: EventMatcher | None = None) -> list[Subscriptions]:
    """The consumer group this service runs and its handler table."""
    # One matcher per app: its filter cache belongs to this app's database.
    return [Subscriptions(group=settings.consumer_group, topics=list(TOPICS),
                          handlers=handlers(matcher or EventMatcher(owner_notices(settings))))]


def jobs(settings: NotificationsSettings) -> list[BackgroundJob]:
    """The delivery worker (it hears of what this process's consumer and API queue
    on commit, service.matching.deliveries_queued), the digest schedule and the
    monthly lessons bulletin."""
    async def deliver(runtime: ServiceRuntime, stop: asyncio.Event) -> None:
        await DeliveryWorker(sessions=runtime.sessions, settings=settings).run(stop)

    async def digests(runtime: ServiceRuntime, stop: asyncio.Event) -> None:
        await run_digest_schedule(runtime.sessions, stop, settings.digest_check_interval)

    async def bulletin(runtime: ServiceRuntime, stop: asyncio.Event) -> None:
        await run_bulletin_schedule(runtime.sessions, stop, settings.bulletin_check_interval)

    # The worker lets attempts end (up to their deadline) and gives its claims
    # back before it returns: its grace covers that.
    return [BackgroundJob(name="delivery-worker", run=deliver,
                          grace=settings.delivery_deadline + 10),
            BackgroundJob(name="digests", run=digests),
            BackgroundJob(name="lessons-bulletin", run=bulletin)]
