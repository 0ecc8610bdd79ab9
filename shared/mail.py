"""A small SMTP sender for messages a service must send itself.

Notifications sends almost every e-mail (from events). A few messages cannot
travel as events because they carry a secret: a SCAR's response link is the
supplier's only credential, and an event is copied to Kafka, the DLQs,
webhooks and feeds. The service that holds the secret sends those directly,
right after its transaction commits, with this.
"""

import logging
from dataclasses import dataclass
from email.message import EmailMessage

import aiosmtplib

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 25
    sender: str = "CAPAflow <capaflow@localhost>"
    username: str | None = None
    password: str | None = None
    start_tls: bool = False
    timeout: float = 10.0


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str
    html: str | None = None


def one_line(value: str) -> str:
    """A header value without line breaks (a CR/LF would inject headers)."""
    return " ".join(value.split())


def build(mail: Mail, *, sender: str, message_id: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = one_line(mail.to)
    message["Subject"] = one_line(mail.subject)
    message["Message-ID"] = f"<{message_id}@capaflow>"
    message.set_content(mail.text)
    if mail.html is not None:
        message.add_alternative(mail.html, subtype="html")
    return message


async def send_mail(settings: SmtpSettings, mail: Mail, *, message_id: str) -> str | None:
    """Send one message; None when the server took it, else why not.

    The error names the failure's kind only: the message may hold a secret and
    an SMTP error can echo parts of it, so nothing of it reaches the log."""
    message = build(mail, sender=settings.sender, message_id=message_id)
    try:
        await aiosmtplib.send(message, hostname=settings.host, port=settings.port,
                              timeout=settings.timeout, username=settings.username,
                              password=settings.password, start_tls=settings.start_tls)
    except aiosmtplib.SMTPRecipientsRefused:
        return "the mail server refused the recipient"
    except (aiosmtplib.SMTPException, OSError) as exc:
        return f"the mail server could not be reached or refused the message ({type(exc).__name__})"
    return None
