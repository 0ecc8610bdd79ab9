"""Use cases and event handlers of the CAPA service.

The handler table (:func:`handlers`) is the one place that says which events
this service reacts to; unknown types are ignored by the consumer.
"""

import asyncio
from collections.abc import Callable
from datetime import datetime

from shared.db import SessionFactory, utcnow
from shared.events.catalog import NONCONFORMITY_TOPIC
from shared.events.nonconformity import (
    NonconformityEscalated,
    NonconformityRecurred,
    NonconformityReported,
    NonconformityUpdated,
)
from shared.inbox import HandlerTable
from shared.mail import SmtpSettings
from shared.runtime import BackgroundJob, ServiceRuntime, Subscriptions, every

from ..settings import CapaSettings
from . import attribution
from .actions import detect_overdue
from .objective_watch import watch_objectives
from .opening import OpeningPolicy, escalation_handler, recurrence_handler
from .reminders import send_reminders
from .scar_schedule import detect_overdue_scars, remind_scars

SERVICE = "capa"


def opening_policy(settings: CapaSettings) -> OpeningPolicy:
    return OpeningPolicy(due_days=dict(settings.due_days),
                         default_likelihood=settings.default_likelihood,
                         owners=settings.owners())


def handlers(settings: CapaSettings, *, clock: Callable[[], datetime] = utcnow
             ) -> HandlerTable:
    return {
        # An escalated NC opens a CAPA, once per NC.
        NonconformityEscalated: escalation_handler(opening_policy(settings),
                                                              clock=clock),
        # A recurrence of an NC whose CAPA is open is linked to that CAPA.
        NonconformityRecurred: recurrence_handler(clock=clock),
        # NCs naming a supplier are counted on its scorecard.
        NonconformityReported: attribution.on_reported,
        NonconformityUpdated: attribution.on_updated,
    }


def consumers(settings: CapaSettings) -> list[Subscriptions]:
    """The consumer group this service runs and its handler table."""
    return [Subscriptions(group=settings.consumer_group, topics=[NONCONFORMITY_TOPIC],
                          handlers=handlers(settings))]


def jobs(settings: CapaSettings) -> list[BackgroundJob]:
    """The periodic overdue check, the reminders and the objective watch, beside the
    consumers."""
    async def overdue_checks(runtime: ServiceRuntime, stop: asyncio.Event) -> None:
        await run_overdue_checks(runtime.sessions, interval=settings.overdue_check_interval,
                                 stop=stop, smtp=settings.smtp())

    async def reminders(runtime: ServiceRuntime, stop: asyncio.Event) -> None:
        await run_reminders(runtime.sessions, interval=settings.reminder_check_interval,
                            days=settings.reminder_days, stop=stop, smtp=settings.smtp())

    async def objective_watch(runtime: ServiceRuntime, stop: asyncio.Event) -> None:
        await run_objective_watch(runtime.sessions,
                                  interval=settings.objective_check_interval, stop=stop)

    return [BackgroundJob(name="overdue-checks", run=overdue_checks),
            BackgroundJob(name="reminders", run=reminders),
            BackgroundJob(name="objective-watch", run=objective_watch)]


async def run_overdue_checks(sessions: SessionFactory, *, interval: float,
                             stop: asyncio.Event,
                             clock: Callable[[], datetime] = utcnow,
                             smtp: SmtpSettings | None = None) -> None:
    """The periodic overdue job (with it, the supplier's overdue and withdrawal e-mails)."""
    async def tick() -> None:
        now = clock()
        await detect_overdue(sessions, now=now)
        await detect_overdue_scars(sessions, now=now, smtp=smtp)

    await every(interval, stop, tick, what="overdue check")


async def run_reminders(sessions: SessionFactory, *, interval: float, days: int,
                        stop: asyncio.Event,
                        clock: Callable[[], datetime] = utcnow,
                        smtp: SmtpSettings | None = None) -> None:
    """The periodic reminder job (``service.reminders``; SCAR reminders mailed too)."""
    async def tick() -> None:
        now = clock()
        await send_reminders(sessions, now=now, days=days)
        await remind_scars(sessions, now=now, days=days, smtp=smtp)

    await every(interval, stop, tick, what="reminder check")


async def run_objective_watch(sessions: SessionFactory, *, interval: float,
                              stop: asyncio.Event,
                              clock: Callable[[], datetime] = utcnow) -> None:
    """The periodic objective watch (``service.objective_watch``)."""
    async def tick() -> None:
        await watch_objectives(sessions, now=clock())

    await every(interval, stop, tick, what="objective watch")
