from datetime import UTC, datetime

import feedparser
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from services.notifications.channels import email
from services.notifications.channels.webhook import signed_headers, slack_payload
from services.notifications.service.feeds import atom, json_feed
from services.notifications.service.messages import DIGEST_TYPE, Links, describe

LINKS = Links("https://capa.example", "https://nc.example")
OLD = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
NEW = "whsec_" + "C2FVsBQIhrscChlQIMV+b5sSYspob7oD"


def test_signature_verifies_with_every_secret_during_rotation() -> None:
    now = datetime.now(UTC)
    body = '{"id":"e1"}'
    headers = signed_headers(secrets=[NEW, OLD], msg_id="d1", timestamp=now, body=body)
    assert headers["webhook-id"] == "d1"
    assert Webhook(NEW).verify(body, headers) == {"id": "e1"}
    assert Webhook(OLD).verify(body, headers) == {"id": "e1"}
    with pytest.raises(WebhookVerificationError):
        Webhook(NEW).verify('{"id":"e2"}', headers)
    only_new = signed_headers(secrets=[NEW], msg_id="d1", timestamp=now, body=body)
    with pytest.raises(WebhookVerificationError):
        Webhook(OLD).verify(body, only_new)


def test_event_message_links_to_the_capa() -> None:
    message = describe({"type": "capaflow.capa.opened.v1", "data": {
        "capa_id": "c1", "number": "CAPA-1", "title": "Leak", "severity": "major"}}, LINKS)
    assert message.title == "CAPA opened: CAPA-1 — Leak"
    assert message.link == "https://capa.example/v1/capas/c1"
    payload = slack_payload(title=message.title, lines=message.lines, link=message.link)
    assert "CAPA-1" in payload["text"]
    assert payload["blocks"][-1]["elements"][0]["url"] == message.link


def test_email_has_text_and_escaped_html() -> None:
    message = describe({"type": DIGEST_TYPE, "data": {
        "mode": "weekly", "period_start": "2026-11-16T00:00:00+00:00",
        "period_end": "2026-11-23T00:00:00+00:00",
        "events": [{"type": "capaflow.nonconformity.reported.v1",
                    "data": {"nonconformity_id": "n1", "number": "NC-1", "title": "<b>x</b>"}}],
        "lessons": [], "open_capas": [], "overdue_capas": []}}, LINKS)
    mail = email.render(sender="a@example.com", to="b@example.com", subject=message.title,
                        context=message.context(), message_id="m1")
    parts = {p.get_content_type(): p.get_content() for p in mail.iter_parts()}
    assert "NC-1 — <b>x</b>" in parts["text/plain"]
    assert "&lt;b&gt;x&lt;/b&gt;" in parts["text/html"]
    assert "https://nc.example/v1/nonconformities/n1" in parts["text/html"]


def test_feeds_are_valid() -> None:
    lessons = [{"type": "capaflow.lesson.published.v1", "time": "2026-11-26T07:00:00Z",
                "data": {"lesson_id": "2b1f4c1e-0000-4000-8000-000000000001",
                         "capa_id": "c1", "title": "Fix & <verify>", "problem": "p",
                         "root_cause": "r", "tags": ["a&b"],
                         "published_at": "2026-11-26T07:00:00Z"}}]
    now = datetime(2026, 11, 26, 8, tzinfo=UTC)
    parsed = feedparser.parse(atom(lessons, self_url="https://n.example/f.atom",
                                   links=LINKS, now=now))
    assert not parsed.bozo and parsed.entries[0].title == "Fix & <verify>"
    assert not feedparser.parse(atom([], self_url="https://n.example/f.atom", links=LINKS,
                                     now=now)).bozo
    feed = json_feed(lessons, self_url="https://n.example/f.json", home_url="https://n.example",
                     links=LINKS)
    assert feed["items"][0]["url"] == "https://capa.example/v1/capas/c1"


def test_links_open_the_uis_pages_when_there_is_a_ui() -> None:
    ui = Links("https://capa.example", "https://nc.example", ui_base_url="https://qms.example/")
    assert ui.for_data({"capa_id": "c1", "nonconformity_id": "n1"}) == \
        "https://qms.example/capas/c1"
    assert ui.for_data({"nonconformity_id": "n1"}) == "https://qms.example/nonconformities/n1"
    assert LINKS.for_data({"capa_id": "c1"}) == "https://capa.example/v1/capas/c1"
