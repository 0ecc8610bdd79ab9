"""Use cases and event handlers of the nonconformity service.

The use cases: reporting (support reports, audit findings, generic webhooks),
monitoring (Alertmanager/Grafana), lifecycle (edit, triage, correction, close,
reopen), queries (reads); escalation applies the policy inside their
transactions, records holds the writes they share. The handler table below is
the one place that says which events this service reacts to (capa_link).
"""

from shared.events.base import CAPA_TOPIC
from shared.events.capa import CapaCancelled, CapaClosed, CapaOpened
from shared.inbox import HandlerTable
from shared.runtime import BackgroundJob, Subscriptions

from ..settings import NonconformitySettings
from .capa_link import on_capa_cancelled, on_capa_closed, on_capa_opened
from .records import SERVICE

HANDLERS: HandlerTable = {
    CapaOpened: on_capa_opened,
    CapaClosed: on_capa_closed,
    CapaCancelled: on_capa_cancelled,
}



def consumers(settings: NonconformitySettings) -> list[Subscriptions]:
    """The consumer group this service runs and its handler table."""
    return [Subscriptions(group=settings.consumer_group, topics=[CAPA_TOPIC],
                          handlers=HANDLERS)]


def jobs(settings: NonconformitySettings) -> list[BackgroundJob]:
    """None: everything this service does is a request or an event."""
    del settings
    return []


__all__ = ["HANDLERS", "SERVICE", "consumers", "jobs"]
