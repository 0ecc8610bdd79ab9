"""Subscription targets: the published patterns and the server agree (issue 13.11).

Every URL the webhook pattern admits is one the SSRF guard's shape check (and
the HTTP client behind it) takes, so the only refusal of a schema-valid target
left is where its host points, which has its own problem type."""

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.notifications.channels.guard import check_url_shape
from services.notifications.domain import Channel
from services.notifications.domain.targets import ANY_TARGET, EMAIL_TARGET, WEB_TARGET, fits


@settings(max_examples=400, database=None, suppress_health_check=list(HealthCheck))
@given(st.from_regex(WEB_TARGET, fullmatch=True))
def test_every_url_the_pattern_admits_passes_the_guards_shape_check(url: str) -> None:
    host, port = check_url_shape(url)  # raises TargetRefused otherwise
    assert host and 0 < port < 65536


@pytest.mark.parametrize("url", [
    "https://hooks.slack.com/services/T000/B000/XXXX", "http://127.0.0.1:8080/hook?x=1#f",
    "http://[2002:7f00:1::]/", "http://xn--bcher-kva.example/", "http://example.com.",
])
def test_webhook_urls_people_give_fit(url: str) -> None:
    assert fits(Channel.webhook, url) and fits(Channel.slack, url)
    assert re.fullmatch(ANY_TARGET, url)


@pytest.mark.parametrize("target", [
    "0", "ftp://example.com/", "http://user:pw@example.com/", "http://01.01.01.01/x",
    "http://example.com:0/", "http://example.com:65536/", "http:///x", "http://exa mple.com/",
    "http://example.com/ü", "HTTP://example.com/", "http://example.com/\x00",
])
def test_targets_outside_the_pattern_do_not_fit(target: str) -> None:
    assert not fits(Channel.webhook, target)
    assert not re.match(WEB_TARGET, target)


@pytest.mark.parametrize("target, fits_email", [
    ("qa@example.com", True), ("qa@localhost", False), ("not an@address.com", False),
    ("qa\x1c@example.com", False), ("qa\x00@example.com", False),
])
def test_the_email_pattern_is_the_services_rule(target: str, fits_email: bool) -> None:
    assert fits(Channel.email, target) is fits_email
    assert bool(re.match(EMAIL_TARGET, target)) is fits_email
