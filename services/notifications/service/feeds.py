"""The lessons-learned feed: Atom 1.0 (RFC 4287) and JSON Feed 1.1."""

from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from ..domain.bulletin import BULLETIN_TYPE
from .messages import Links, bulletin_title

TITLE = "CAPAflow lessons learned"


def _lesson_text(data: dict[str, Any]) -> str:
    parts = [("Problem", data.get("problem")), ("Root cause", data.get("root_cause")),
             ("Cause category", data.get("cause_category")),
             ("Actions", "; ".join(str(a) for a in data.get("actions") or []) or None),
             ("What to do differently", data.get("what_to_do_differently"))]
    return "\n".join(f"{k}: {v}" for k, v in parts if v)


def _published(envelope: dict[str, Any]) -> str:
    data = envelope.get("data") or {}
    return str(data.get("published_at") or envelope.get("time"))


def _bulletin_text(data: dict[str, Any]) -> str:
    return "\n\n".join(f"{lesson.get('capa_number') or ''} {lesson.get('title') or ''}\n"
                        f"{_lesson_text(lesson)}".strip()
                        for lesson in data.get("lessons") or [])


def _entry(envelope: dict[str, Any]) -> tuple[str, str, str, list[str]]:
    """(id, title, text, tags) of a feed entry: a lesson, or a month's bulletin."""
    data = envelope.get("data") or {}
    if envelope.get("type") == BULLETIN_TYPE:
        return (f"urn:capaflow:{data.get('bulletin_id')}", bulletin_title(data),
                _bulletin_text(data), [str(t) for t in data.get("tags") or []])
    return (f"urn:uuid:{data.get('lesson_id')}", str(data.get("title", "Lesson learned")),
            _lesson_text(data), [str(t) for t in data.get("tags") or []])


def atom(lessons: list[dict[str, Any]], *, self_url: str, links: Links,
         now: datetime) -> str:
    updated = max((_published(e) for e in lessons), default=now.isoformat())
    entries = []
    for envelope in lessons:
        data = envelope.get("data") or {}
        entry_id, title, text, tags = _entry(envelope)
        link = links.for_data(data)
        categories = "".join(f"<category term={quoteattr(t)}/>" for t in tags)
        entries.append(
            "<entry>"
            f"<id>{escape(entry_id)}</id>"
            f"<title>{escape(title)}</title>"
            f"<updated>{escape(_published(envelope))}</updated>"
            f"<published>{escape(_published(envelope))}</published>"
            + (f"<link rel=\"alternate\" href={quoteattr(link)}/>" if link else "")
            + categories
            + f"<content type=\"text\">{escape(text)}</content>"
            "</entry>")
    return ('<?xml version="1.0" encoding="utf-8"?>\n'
            '<feed xmlns="http://www.w3.org/2005/Atom">'
            f"<id>{escape(self_url)}</id><title>{TITLE}</title>"
            f"<updated>{escape(updated)}</updated>"
            "<author><name>CAPAflow</name></author>"
            f"<link rel=\"self\" href={quoteattr(self_url)}/>"
            + "".join(entries) + "</feed>\n")


def json_feed(lessons: list[dict[str, Any]], *, self_url: str, home_url: str,
              links: Links) -> dict[str, Any]:
    items = []
    for envelope in lessons:
        data = envelope.get("data") or {}
        entry_id, title, text, tags = _entry(envelope)
        item: dict[str, Any] = {"id": entry_id.removeprefix("urn:uuid:"), "title": title,
                                "content_text": text,
                                "date_published": _published(envelope), "tags": tags}
        link = links.for_data(data)
        if link:
            item["url"] = link
        items.append(item)
    return {"version": "https://jsonfeed.org/version/1.1", "title": TITLE,
            "home_page_url": home_url, "feed_url": self_url,
            "authors": [{"name": "CAPAflow"}], "items": items}
