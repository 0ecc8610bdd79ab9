"""The lessons-learned bulletin as people read it (e-mail, and its preview).

It keeps the promise of its first line: each lesson says what went wrong (the
CAPA's problem statement), its root cause and what to do differently, with a
link to its CAPA. The preview (GET /v1/bulletins/preview) renders this same
message, so an operator reads what subscribers get.
"""

from typing import Any

from .message_parts import Links, Message
from .messages_records import capa_headline, lesson_lines


def bulletin_title(data: dict[str, Any]) -> str:
    return f"CAPAflow lessons-learned bulletin {data.get('month', '')}".strip()


def bulletin_message(data: dict[str, Any], links: Links) -> Message:
    """The month's lessons, each with its problem, root cause, what to do differently
    and a link to its CAPA."""
    lessons = data.get("lessons") or []
    return Message(
        bulletin_title(data),
        [f"{len(lessons)} lesson{'s' if len(lessons) != 1 else ''} learned from CAPAs closed "
         f"in {data.get('month', 'the month')}: what went wrong, its root cause and what "
         "to do differently."],
        None,
        [{"heading": "Lessons learned",
          "items": [{"text": capa_headline(lesson.get("capa_number"), lesson.get("title"))
                     or "Lesson", "details": lesson_lines(lesson),
                     "link": links.for_data(lesson)} for lesson in lessons]}],
    )
