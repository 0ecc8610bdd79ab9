"""The preview of a month's lessons-learned bulletin, for an operator.

It renders the e-mail subscribers get (or got) without sending anything: for a
month already published, the stored bulletin (what went out); otherwise the
bulletin the month's lessons so far would make. It also says whether the month
was published, and under which feed entry id to find it.
"""

import json
from typing import Any

from sqlmodel import col, select

from shared.db import SessionFactory, utcnow
from shared.errors import Invalid

from ..channels import email
from ..domain.bulletin import bulletin_data, bulletin_id, month_bounds
from ..models import ReceivedEvent
from .bulletin import bulletin_envelope, month_lessons
from .messages import Links, describe


async def preview_bulletin(sessions: SessionFactory, *, month: str, links: Links,
                           sender: str) -> dict[str, Any]:
    try:
        start, end, month = month_bounds(month)
    except ValueError as exc:
        raise Invalid(str(exc), [("month", str(exc))]) from None
    async with sessions() as session:
        stored = (await session.exec(select(ReceivedEvent.envelope, ReceivedEvent.received_at)
                                     .where(col(ReceivedEvent.event_id) == bulletin_id(month))
                                     )).first()
        if stored is not None:
            envelope = json.loads(stored[0])
        else:
            lessons = await month_lessons(session, start, end)
            envelope = bulletin_envelope(
                bulletin_data(lessons, start=start, end=end, month=month), utcnow()
            ) if lessons else None
    found: dict[str, Any] = {
        "month": month, "entry_id": f"urn:capaflow:{bulletin_id(month)}",
        "published": stored is not None,
        "published_at": stored[1].isoformat() if stored is not None else None,
        "lessons": len(envelope["data"]["lessons"]) if envelope else 0,
        "subject": None, "text": None, "html": None}
    if envelope is None:
        return found | {"note": f"No lessons were received in {month}: that month has no "
                                "bulletin."}
    message = describe(envelope, links)
    mail = email.render(sender=sender, to="subscriber@example.invalid", subject=message.title,
                        context=message.context(), message_id="preview")
    text, html = mail.get_body(("plain",)), mail.get_body(("html",))
    return found | {"subject": str(mail["Subject"]),
                    "text": str(text.get_content()) if text else None,
                    "html": str(html.get_content()) if html else None}
