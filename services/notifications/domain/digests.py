"""Digest periods and the book of open CAPAs a digest reports."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .kinds import DeliveryMode


def digest_period(mode: DeliveryMode, now: datetime) -> tuple[datetime, datetime]:
    """The last complete period before ``now``: a UTC day, or a week from Monday."""
    end = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if mode is DeliveryMode.weekly:
        end -= timedelta(days=end.weekday())
        return end - timedelta(days=7), end
    return end - timedelta(days=1), end


@dataclass
class CapaBook:
    """Open CAPAs as far as the events we consumed tell.

    Only CAPA-level facts are kept: an action's ``due_date`` (on
    ``action_added``) is not the CAPA's.
    """

    open: dict[str, dict[str, Any]] = field(default_factory=dict)

    def apply(self, event_type: str, data: Mapping[str, Any]) -> None:
        capa_id = data.get("capa_id")
        if capa_id is None or not event_type.startswith("capaflow.capa."):
            return
        key = str(capa_id)
        verb = event_type.split(".")[2] if event_type.count(".") >= 3 else ""
        if verb in ("closed", "cancelled"):
            self.open.pop(key, None)
            return
        if verb == "opened":
            self.open[key] = dict(data)
            return
        capa = self.open.setdefault(key, {"capa_id": key})
        capa.update({k: data[k] for k in ("number", "title", "severity", "owner")
                     if data.get(k) is not None})
        if verb == "status_changed" and data.get("to_status"):
            capa["status"] = data["to_status"]
        if verb == "overdue":
            capa["overdue"] = True
            capa["due_date"] = data.get("due_date", capa.get("due_date"))

    def overdue(self, now: datetime) -> list[dict[str, Any]]:
        today = now.date().isoformat()
        return [capa for capa in self.open.values()
                if capa.get("overdue") or (capa.get("due_date")
                                           and str(capa["due_date"])[:10] < today)]
