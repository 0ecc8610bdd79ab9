"""Who may have the service e-mail an address: the address of one's own verified
identity (the one watches use), or any address for a manager or admin."""

import pytest

from services.notifications.service.subscriptions import check_email_target
from services.notifications.settings import NotificationsSettings
from shared.auth import Principal
from shared.errors import NotPermitted


def _person(role: str, email: str | None = None, subject: str = "ann") -> Principal:
    return Principal(subject=subject, roles=frozenset({role}), email=email, method="oidc")


def test_the_sign_in_email_is_ones_own_address() -> None:
    settings = NotificationsSettings(owner_email_domain=None)
    ann = _person("engineer", email="ann.lee@corp.example")
    check_email_target(ann, " Ann.Lee@corp.example ", settings)
    with pytest.raises(NotPermitted, match=r"your own address \(ann.lee@corp.example\)"):
        check_email_target(ann, "boss@corp.example", settings)


def test_without_an_address_of_ones_own_only_managers_email() -> None:
    settings = NotificationsSettings(owner_email_domain=None)
    with pytest.raises(NotPermitted, match="your sign-in does not name"):
        check_email_target(_person("reporter"), "ann@corp.example", settings)
    for role in ("manager", "admin"):
        check_email_target(_person(role), "anyone@stranger.example", settings)


def test_the_subject_at_the_owner_domain_is_ones_own_address() -> None:
    settings = NotificationsSettings(owner_email_domain="corp.example")
    check_email_target(_person("reporter"), "ann@corp.example", settings)
    with pytest.raises(NotPermitted):
        check_email_target(_person("reporter"), "ann@stranger.example", settings)
