"""E-mail over SMTP (aiosmtplib): one plain-text and one HTML part from Jinja2."""

from email.message import EmailMessage
from typing import Any

import aiosmtplib
from jinja2 import Environment, select_autoescape

from ..domain import AttemptResult, Outcome

_TEXT = """\
{{ title }}
{% for line in lines %}
{{ line }}{% endfor %}
{% for section in sections %}
{{ section.heading }}
{% for item in section["items"] %}- {{ item.text }}{% if item.link %} <{{ item.link }}>{% endif %}
{% for detail in item.details %}  {{ detail }}
{% endfor %}{% else %}- none
{% endfor %}{% endfor %}
{% if link %}
Open: {{ link }}
{% endif %}
--
CAPAflow notifications
{% for line in hint %}{{ line }}
{% endfor %}"""

_HTML = """\
<!doctype html>
<html><body>
<h2>{{ title }}</h2>
{% for line in lines %}<p>{{ line }}</p>
{% endfor %}
{% for section in sections %}<h3>{{ section.heading }}</h3>
<ul>{% for item in section["items"] %}<li>{% if item.link %}<a href="{{ item.link }}">\
{{ item.text }}</a>{% else %}{{ item.text }}{% endif %}{% if item.details %}<br>\
{{ item.details | join("<br>"|safe) }}{% endif %}</li>{% else %}<li>none</li>{% endfor %}</ul>
{% endfor %}
{% if link %}<p><a href="{{ link }}">Open in CAPAflow</a></p>{% endif %}
<p style="color:#666">CAPAflow notifications</p>
{% for line in hint %}<p style="color:#666">{{ line }}</p>
{% endfor %}
</body></html>
"""

_ENV = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
_TEXT_TEMPLATE = Environment(autoescape=False).from_string(_TEXT)
_HTML_TEMPLATE = _ENV.from_string(_HTML)


def render(*, sender: str, to: str, subject: str, context: dict[str, Any],
           message_id: str) -> EmailMessage:
    context = {"lines": [], "sections": [], "link": None, "hint": [], **context}
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = one_line(subject)
    message["Message-ID"] = f"<{message_id}@capaflow>"
    message.set_content(_TEXT_TEMPLATE.render(**context))
    message.add_alternative(_HTML_TEMPLATE.render(**context), subtype="html")
    return message


def one_line(value: str) -> str:
    """A header value without line breaks: titles come from NCs and alerts, and a
    CR/LF in a header is refused by the builder (and would inject headers)."""
    return " ".join(value.split())


async def send(message: EmailMessage, *, host: str, port: int, timeout: float,
               username: str | None = None, password: str | None = None,
               start_tls: bool = False) -> AttemptResult:
    try:
        await aiosmtplib.send(message, hostname=host, port=port, timeout=timeout,
                              username=username, password=password, start_tls=start_tls)
    except aiosmtplib.SMTPRecipientsRefused as exc:
        return AttemptResult(Outcome.failed, error=f"recipient refused: {exc}"[:500])
    except (aiosmtplib.SMTPException, OSError) as exc:
        return AttemptResult(Outcome.retry, error=f"{type(exc).__name__}: {exc}"[:500])
    return AttemptResult(Outcome.delivered)
