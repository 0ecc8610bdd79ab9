"""Use cases and event handlers of the notifications service.

The handler table is the one place that says which events this service
reacts to; unknown types are ignored by the consumer.
"""

from shared.events.catalog import CAPA_TOPIC, NONCONFORMITY_TOPIC
from shared.inbox import Handler
from shared.runtime import Subscriptions

SERVICE = "notifications"

# Filled by the notifications issue: every event is matched against the
# subscriptions and becomes deliveries.
HANDLERS: dict[str, Handler] = {}

SUBSCRIPTIONS = [Subscriptions(group="notifications", topics=[NONCONFORMITY_TOPIC, CAPA_TOPIC],
                               handlers=HANDLERS)]
