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

from shared.events.catalog import CAPA_TOPIC, CATALOG, NONCONFORMITY_TOPIC
from shared.inbox import HandlerTable
from shared.runtime import Subscriptions

from .matching import EventMatcher, match_event

SERVICE = "notifications"


HANDLERS: HandlerTable = {
    model: match_event for model in CATALOG.values()
    if model.topic in (NONCONFORMITY_TOPIC, CAPA_TOPIC)
}

SUBSCRIPTIONS = [Subscriptions(group="notifications", topics=[NONCONFORMITY_TOPIC, CAPA_TOPIC],
                               handlers=HANDLERS)]


def with_matcher(subscriptions: list[Subscriptions],
                 matcher: EventMatcher) -> list[Subscriptions]:
    """The consumer table with one app's matcher (its filter cache) in place of
    ``match_event``; groups and topics as given (the bench renames groups)."""
    return [Subscriptions(group=s.group, topics=s.topics,
                          handlers={m: matcher if h is match_event else h
                                    for m, h in s.handlers.items()})
            for s in subscriptions]
