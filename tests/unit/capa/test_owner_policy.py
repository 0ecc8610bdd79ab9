"""The owner policy of escalated CAPAs: which rule wins, and a bad setting stops start-up."""

import pytest
from pydantic import ValidationError

from services.capa.domain.ownership import (
    NO_POLICY,
    InvalidOwnerPolicy,
    parse_owner_policy,
)
from services.capa.settings import CapaSettings

RULES = {"monitoring": "SRE-Lead", "audit": "qa-lead", "category:Payments": "payments-lead",
         "severity:critical": "duty-manager", "*": "quality-manager"}


def test_the_most_specific_rule_wins() -> None:
    policy = parse_owner_policy(RULES)
    assert policy.owner_for(source="monitoring", category="payments", severity="critical") \
        == ("payments-lead", "category:payments")
    assert policy.owner_for(source="monitoring", category="disk", severity="critical") \
        == ("sre-lead", "source:monitoring")
    assert policy.owner_for(source="support", category=None, severity="critical") \
        == ("duty-manager", "severity:critical")
    assert policy.owner_for(source="support", category="other", severity="minor") \
        == ("quality-manager", "*")


def test_categories_compare_without_case_and_owners_are_canonical() -> None:
    policy = parse_owner_policy(RULES)
    assert policy.owner_for(source=None, category=" PAYMENTS ", severity=None) \
        == ("payments-lead", "category:payments")
    # Stored as the identity filters compare it ("SRE-Lead" is one person with "sre-lead").
    assert policy.by_source["monitoring"] == "sre-lead"


def test_without_a_fallback_an_unmatched_escalation_has_no_owner() -> None:
    policy = parse_owner_policy({"audit": "qa-lead"})
    assert policy.owner_for(source="support", category=None, severity="major") is None
    assert NO_POLICY.owner_for(source="audit", category="x", severity="minor") is None


@pytest.mark.parametrize("rules, says", [
    ({"monitor": "x"}, "not a source"),
    ({"severity:huge": "x"}, "unknown severity"),
    ({"category:": "x"}, "name a category"),
    ({"*": ""}, "identity"),
    ({"*": "qa\u200blead"}, "invisible"),
    ({"*": "q\u0430-lead"}, "scripts"),  # a Cyrillic look-alike
    ({"*": "x" * 128}, "longer"),
])
def test_a_bad_rule_is_refused_with_its_key(rules: dict[str, str], says: str) -> None:
    with pytest.raises(InvalidOwnerPolicy, match=says):
        parse_owner_policy(rules)


def test_the_setting_is_checked_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAPA_OWNER_POLICY", '{"monitoring": "SRE-Lead", "*": "qm"}')
    assert CapaSettings().owners().owner_for(source="monitoring", category=None,
                                             severity=None) == ("sre-lead", "source:monitoring")
    monkeypatch.setenv("CAPA_OWNER_POLICY", '{"monitorin": "sre-lead"}')
    with pytest.raises(ValidationError, match="not a source"):
        CapaSettings()
    monkeypatch.delenv("CAPA_OWNER_POLICY")
    assert CapaSettings().owners() == NO_POLICY
