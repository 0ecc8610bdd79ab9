"""A scorecard whose code the register lacks says so in the pack's CSV and PDF
(its JSON keeps ``name: null``), rather than a nameless row."""

from services.capa.domain.review_labels import NOT_REGISTERED, shown


def test_a_code_the_register_lacks_is_named_not_in_the_register() -> None:
    phantom = {"supplier_code": "acme-seal", "name": None, "criticality": None}
    assert shown("name", phantom) == NOT_REGISTERED == "not in the register"
    registered = {"supplier_code": "acme-seals", "name": "Acme Seals GmbH"}
    assert shown("name", registered) == "Acme Seals GmbH"
    # Other sections' "name"-less rows are left as they are.
    assert shown("name", {"title": "x"}) is None
