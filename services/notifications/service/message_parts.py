"""The parts of a message: what a person reads, and where its links point.

Kept apart from service.messages so the per-event wordings (messages_records,
the bulletin's) can build messages without importing the dispatcher.
"""

from dataclasses import dataclass, field
from typing import Any

from ..domain.watches import Record, Watch


@dataclass
class Message:
    title: str
    lines: list[str] = field(default_factory=list)
    link: str | None = None
    sections: list[dict[str, Any]] = field(default_factory=list)
    # Why the reader gets it and how to stop (a watch's unwatch hint).
    hint: list[str] = field(default_factory=list)

    def context(self) -> dict[str, Any]:
        return {"title": self.title, "lines": self.lines, "link": self.link,
                "sections": self.sections, "hint": self.hint}


@dataclass(frozen=True)
class Links:
    capa_base_url: str
    nonconformity_base_url: str
    # The web UI, when there is one: people get its pages, which their browser
    # session opens, instead of the JSON API, which wants a bearer token.
    ui_base_url: str | None = None

    def for_data(self, data: dict[str, Any]) -> str | None:
        if self.ui_base_url:
            ui = self.ui_base_url.rstrip("/")
            if data.get("capa_id"):
                return f"{ui}/capas/{data['capa_id']}"
            if data.get("nonconformity_id"):
                return f"{ui}/nonconformities/{data['nonconformity_id']}"
            return None
        if data.get("capa_id"):
            return f"{self.capa_base_url.rstrip('/')}/v1/capas/{data['capa_id']}"
        if data.get("nonconformity_id"):
            return (f"{self.nonconformity_base_url.rstrip('/')}/v1/nonconformities/"
                    f"{data['nonconformity_id']}")
        return None

    def record_page(self, watch: Watch) -> str | None:
        """The UI page of a watched record (where its Unwatch button is)."""
        if not self.ui_base_url:
            return None
        area = "capas" if watch.record is Record.capa else "nonconformities"
        return f"{self.ui_base_url.rstrip('/')}/{area}/{watch.record_id}"

    def settings_page(self) -> str | None:
        """The UI page of a person's own notification settings."""
        return f"{self.ui_base_url.rstrip('/')}/my/notifications" if self.ui_base_url else None

    def page(self, ui_path: str, api_path: str | None = None) -> str | None:
        """A UI page when there is a UI, else the CAPA API's resource (or nothing)."""
        if self.ui_base_url:
            return f"{self.ui_base_url.rstrip('/')}{ui_path}"
        return f"{self.capa_base_url.rstrip('/')}{api_path}" if api_path else None
