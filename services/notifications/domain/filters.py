"""What a subscriber wants to hear about: the event filter and how it matches."""

from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

SEVERITY_RANK = {"observation": 0, "minor": 1, "major": 2, "critical": 3}


@dataclass(frozen=True)
class EventFilter:
    """What a subscriber wants. Empty fields match everything; set fields must all match.

    A set field the event does not carry (say ``min_severity`` on a
    ``capa.closed``) does not match: the subscriber asked for a property the
    event cannot prove.
    """

    event_types: tuple[str, ...] = ()
    min_severity: str | None = None
    sources: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()
    nonconformity_id: str | None = None
    capa_id: str | None = None

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> "EventFilter":
        def tup(name: str) -> tuple[str, ...]:
            return tuple(str(v) for v in raw.get(name) or ())

        def opt(name: str) -> str | None:
            value = raw.get(name)
            return None if value is None else str(value)

        return cls(event_types=tup("event_types"), min_severity=opt("min_severity"),
                   sources=tup("sources"), categories=tup("categories"), tags=tup("tags"),
                   owners=tup("owners"), nonconformity_id=opt("nonconformity_id"),
                   capa_id=opt("capa_id"))

    def matches(self, event_type: str, data: Mapping[str, Any]) -> bool:
        return self.matches_type(event_type) and self.matches_data(data)

    def matches_type(self, event_type: str) -> bool:
        # Split from matches_data: the glob test depends on the type alone, so a
        # matcher can run it once per event type instead of once per event.
        return not self.event_types or any(fnmatchcase(event_type, p) for p in self.event_types)

    def matches_data(self, data: Mapping[str, Any]) -> bool:
        if self.min_severity is not None:
            rank = SEVERITY_RANK.get(str(data.get("severity")))
            if rank is None or rank < SEVERITY_RANK[self.min_severity]:
                return False
        if self.sources and data.get("source") not in self.sources:
            return False
        if self.categories and data.get("category") not in self.categories:
            return False
        if self.tags and not set(self.tags) & {str(t) for t in data.get("tags") or ()}:
            return False
        if self.owners and data.get("owner") not in self.owners:
            return False
        if self.nonconformity_id is not None:
            ncs = {str(data.get("nonconformity_id"))} | {
                str(i) for i in data.get("nonconformity_ids") or ()}
            if self.nonconformity_id not in ncs:
                return False
        return self.capa_id is None or str(data.get("capa_id")) == self.capa_id
