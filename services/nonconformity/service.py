"""Use cases and event handlers of the nonconformity service.

The handler table is the one place that says which events this service
reacts to; unknown types are ignored by the consumer.
"""

from shared.events.catalog import CAPA_TOPIC
from shared.inbox import Handler
from shared.runtime import Subscriptions

SERVICE = "nonconformity"

# Filled by the intake issue: capa.opened links an NC to its CAPA,
# capa.closed lets the NC close.
HANDLERS: dict[str, Handler] = {}

SUBSCRIPTIONS = [Subscriptions(group="nonconformity", topics=[CAPA_TOPIC], handlers=HANDLERS)]
