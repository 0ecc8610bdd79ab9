"""Use cases and event handlers of the CAPA service.

The handler table is the one place that says which events this service
reacts to; unknown types are ignored by the consumer.
"""

from shared.events.catalog import NONCONFORMITY_TOPIC
from shared.inbox import Handler
from shared.runtime import Subscriptions

SERVICE = "capa"

# Filled by the CAPA issue: nonconformity.escalated opens a CAPA per NC.
HANDLERS: dict[str, Handler] = {}

SUBSCRIPTIONS = [Subscriptions(group="capa", topics=[NONCONFORMITY_TOPIC], handlers=HANDLERS)]
