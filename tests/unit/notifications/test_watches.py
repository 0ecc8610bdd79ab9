"""Watches in the domain: the key, the filter on the record's payload, the address
from the person's identity, and the unwatch hint of the e-mail."""

import uuid

import pytest

from services.notifications.channels import email
from services.notifications.domain import EventFilter
from services.notifications.domain.watches import Record, Watch, watch_address
from services.notifications.service.messages import Links, describe

CAPA, NC, OTHER = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
LINKS = Links("https://capa.example", "https://nc.example")
UI = Links("https://capa.example", "https://nc.example", ui_base_url="https://qms.example/")


def test_the_key_names_the_record_and_reads_back() -> None:
    watch = Watch(Record.capa, CAPA)
    assert watch.key == f"capa:{CAPA}"
    assert Watch.from_key(watch.key) == watch
    assert Watch.from_key(f"nonconformity:{NC}") == Watch(Record.nonconformity, NC)
    for junk in (None, "", "capa", f"lesson:{CAPA}", "capa:CAPA-12"):
        assert Watch.from_key(junk) is None


def _matches(watch: Watch, event_type: str, data: dict[str, object]) -> bool:
    return EventFilter.from_dict(watch.filter()).matches(event_type, data)


@pytest.mark.parametrize("event_type, data, expected", [
    ("capaflow.capa.status_changed.v1", {"capa_id": str(CAPA)}, True),
    ("capaflow.capa.action_added.v1", {"capa_id": str(CAPA)}, True),
    ("capaflow.lesson.published.v1", {"capa_id": str(CAPA), "lesson_id": "l1"}, True),
    ("capaflow.capa.status_changed.v1", {"capa_id": str(OTHER)}, False),
    # An NC event that names the CAPA (recurrence) is about it too.
    ("capaflow.nonconformity.recurred.v1", {"nonconformity_id": str(NC),
                                            "capa_id": str(CAPA)}, True),
    ("capaflow.nonconformity.reported.v1", {"nonconformity_id": str(NC)}, False),
])
def test_a_capa_watch_hears_every_event_naming_the_capa(
        event_type: str, data: dict[str, object], expected: bool) -> None:
    assert _matches(Watch(Record.capa, CAPA), event_type, data) is expected


@pytest.mark.parametrize("event_type, data, expected", [
    ("capaflow.nonconformity.reported.v1", {"nonconformity_id": str(NC)}, True),
    ("capaflow.nonconformity.escalated.v1", {"nonconformity_id": str(NC)}, True),
    # The CAPA events whose payload names the NC: opened from it, linked, closed.
    ("capaflow.capa.opened.v1", {"capa_id": str(CAPA), "nonconformity_id": str(NC)}, True),
    ("capaflow.capa.nonconformity_linked.v1", {"capa_id": str(CAPA),
                                               "nonconformity_id": str(NC)}, True),
    ("capaflow.capa.closed.v1", {"capa_id": str(CAPA),
                                 "nonconformity_ids": [str(OTHER), str(NC)]}, True),
    # The CAPA's steps in between carry only the CAPA's id: watch the CAPA for those.
    ("capaflow.capa.status_changed.v1", {"capa_id": str(CAPA)}, False),
    ("capaflow.nonconformity.reported.v1", {"nonconformity_id": str(OTHER)}, False),
])
def test_an_nc_watch_hears_the_nc_and_the_capa_events_that_name_it(
        event_type: str, data: dict[str, object], expected: bool) -> None:
    assert _matches(Watch(Record.nonconformity, NC), event_type, data) is expected


@pytest.mark.parametrize("claim, subject, domain, expected", [
    ("ann@corp.example", "ann-4711", None, "ann@corp.example"),  # the token's claim first
    ("ann@corp.example", "ann", "other.example", "ann@corp.example"),
    ("not an address", "ann", "corp.example", "ann@corp.example"),  # unusable claim
    (None, "bo@corp.example", None, "bo@corp.example"),  # a subject that is an address
    (None, "dev-engineer", "corp.example", "dev-engineer@corp.example"),
    (None, "dev-engineer", None, None),  # nowhere to write: the API says so
    (None, "ann smith", "corp.example", None),
])
def test_the_address_comes_from_the_identity(claim: str | None, subject: str,
                                             domain: str | None, expected: str | None) -> None:
    assert watch_address(claim, subject, domain) == expected


def _mail(links: Links, watching: str | None) -> str:
    envelope = {"type": "capaflow.capa.status_changed.v1",
                "data": {"capa_id": str(CAPA), "number": "CAPA-2026-00012",
                         "title": "Seal leak", "to_status": "investigating"}}
    message = describe(envelope, links, watching=watching)
    mail = email.render(sender="c@example.com", to="ann@corp.example", subject=message.title,
                        context=message.context(), message_id="m1")
    part = mail.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def test_a_watch_email_says_why_and_how_to_stop() -> None:
    body = _mail(UI, f"capa:{CAPA}")
    assert f"Open: https://qms.example/capas/{CAPA}" in body
    assert "because you watch this CAPA" in body
    assert f"open https://qms.example/capas/{CAPA} and choose Unwatch" in body
    assert "https://qms.example/my/notifications" in body
    assert "/v1/subscriptions" not in body
    # Without a UI: the API call that stops it.
    assert f"DELETE /v1/watches/capas/{CAPA}" in _mail(LINKS, f"capa:{CAPA}")
    nc_body = _mail(UI, f"nonconformity:{NC}")
    assert f"open https://qms.example/nonconformities/{NC} and choose Unwatch" in nc_body


def test_an_ordinary_subscription_email_points_to_my_notifications_or_to_no_path() -> None:
    body = _mail(UI, None)
    assert "Unwatch" not in body
    assert "Manage your notifications: https://qms.example/my/notifications" in body
    # Without a UI, no path at all: an API path is no use to a person reading an e-mail.
    bare = _mail(LINKS, None)
    assert "CAPAflow notifications" in bare
    assert "/v1/subscriptions" not in bare and "Manage your" not in bare


def test_an_unverified_email_claim_is_no_address() -> None:
    from shared.oidc_claims import OidcConfig, principal_from

    config = OidcConfig(issuer="https://id.example/realms/x")
    claims = {"preferred_username": "ann", "email": "boss@corp.example"}
    assert principal_from(claims, config).email is None  # absent is not verified
    assert principal_from(claims | {"email_verified": True}, config).email == "boss@corp.example"
    assert principal_from(claims | {"email_verified": False}, config).email is None
