"""Event handlers of the nonconformity service, in one visible table.

The use cases live beside this module: reporting (support reports, audit
findings, generic webhooks), monitoring (Alertmanager/Grafana), lifecycle
(edit, triage, correction, close, reopen), queries (reads).
"""

from shared.events.base import CAPA_TOPIC
from shared.events.capa import CapaCancelled, CapaClosed, CapaOpened
from shared.inbox import Handler
from shared.runtime import Subscriptions

from .capa_link import on_capa_cancelled, on_capa_closed, on_capa_opened
from .records import SERVICE

HANDLERS: dict[str, Handler] = {
    CapaOpened.event_type: on_capa_opened,
    CapaClosed.event_type: on_capa_closed,
    CapaCancelled.event_type: on_capa_cancelled,
}

SUBSCRIPTIONS = [Subscriptions(group="nonconformity", topics=[CAPA_TOPIC], handlers=HANDLERS)]

__all__ = ["HANDLERS", "SERVICE", "SUBSCRIPTIONS"]
