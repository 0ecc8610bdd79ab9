"""The e-mail that carries a SCAR's response link to the supplier's contact.

Sent by this service itself, after the SCAR's transaction committed, because
the link is the supplier's credential: an event would copy it to the bus, the
DLQs, webhooks and feeds (docs/DESIGN.md, "Suppliers and SCARs"). The token
is in the message and nowhere else: not in the SCAR row (its hash is), not in
the audit trail, not in a log line (a failure logs the SCAR's number only).
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from html import escape

from shared.mail import Mail, SmtpSettings, send_mail

log = logging.getLogger(__name__)
# The web UI's public page that opens the link (services/web/pages/supplier_response.py).
RESPONSE_PATH = "/supplier-response/"


@dataclass(frozen=True)
class LinkMail:
    scar_id: str
    number: str
    to: str
    contact_name: str
    request: str
    due_date: date
    expires_at: datetime
    link: str


def response_link(ui_base_url: str, token: str) -> str:
    return ui_base_url.rstrip("/") + RESPONSE_PATH + token


def compose(mail: LinkMail) -> Mail:
    subject = f"Supplier corrective action request {mail.number}: response due {mail.due_date}"
    text = (f"Dear {mail.contact_name},\n\n"
            f"we ask you for a corrective action ({mail.number}):\n\n{mail.request}\n\n"
            f"Please respond by {mail.due_date.isoformat()}: contain the problem, find its "
            "root cause (5 Whys) and plan corrective actions with dates. The form keeps "
            "a draft until you submit it; you may attach evidence files.\n\n"
            f"Your response form (no account needed):\n{mail.link}\n\n"
            f"The link works until {mail.expires_at:%Y-%m-%d %H:%M} UTC. It is for you only: "
            "whoever has it can answer for your company, so do not forward it.\n")
    html = (f"<p>Dear {escape(mail.contact_name)},</p>"
            f"<p>we ask you for a corrective action ({escape(mail.number)}):</p>"
            f"<blockquote>{escape(mail.request)}</blockquote>"
            f"<p>Please respond by <strong>{mail.due_date.isoformat()}</strong>.</p>"
            f'<p><a href="{escape(mail.link, quote=True)}">Open your response form</a> '
            "(no account needed).</p>"
            f"<p>The link works until {mail.expires_at:%Y-%m-%d %H:%M} UTC. It is for you "
            "only: do not forward it.</p>")
    return Mail(to=mail.to, subject=subject, text=text, html=html)


async def send_link(smtp: SmtpSettings | None, mail: LinkMail) -> tuple[str, str | None]:
    """("sent" | "failed" | "not_configured", why it failed)."""
    if smtp is None:
        return "not_configured", "No mail server is configured (CAPA_SMTP_HOST)."
    # One Message-ID per message: "send the link again" is a new message, and mail
    # stores drop a second one with an ID they already hold (the new link lost).
    error = await send_mail(smtp, compose(mail),
                            message_id=f"scar-{mail.scar_id}-{uuid.uuid4().hex[:16]}")
    if error is not None:
        log.warning("the response link of %s was not sent: %s", mail.number, error)
        return "failed", error
    return "sent", None
