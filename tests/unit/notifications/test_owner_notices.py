"""Owner notices: who a reminder or overdue notice goes to, at which address, what it says."""

import pytest

from services.notifications.domain.owner_notices import OWNER_NOTICES, owner_address, recipient
from services.notifications.service.messages import Links, describe
from shared.events.capa import (
    CapaActionDueSoon,
    CapaActionOverdue,
    CapaDueSoon,
    CapaEffectivenessCheckDue,
    CapaOverdue,
)
from shared.events.suppliers import ScarDueSoon, ScarOverdue

LINKS = Links(capa_base_url="http://capa.example", nonconformity_base_url="http://nc.example")


def test_every_owner_notice_is_a_catalog_event_naming_its_person_field() -> None:
    for model in (CapaActionDueSoon, CapaDueSoon, CapaEffectivenessCheckDue,
                  CapaActionOverdue, CapaOverdue, ScarDueSoon, ScarOverdue):
        assert OWNER_NOTICES[model.event_type] in model.model_fields


@pytest.mark.requirement("cfr820-100a6")
def test_an_action_notice_goes_to_the_action_owner_a_capa_notice_to_the_capa_owner() -> None:
    data = {"owner": "carla@example.com", "action_owner": "ann@example.com"}
    assert recipient("capaflow.capa.action_due_soon.v1", data) == "ann@example.com"
    assert recipient("capaflow.capa.action_overdue.v1", data) == "ann@example.com"
    assert recipient("capaflow.capa.due_soon.v1", data) == "carla@example.com"
    assert recipient("capaflow.capa.effectiveness_check_due.v1", data) == "carla@example.com"
    # Not a notice, or nobody owns it: no owner e-mail (subscriptions still hear of it).
    assert recipient("capaflow.capa.closed.v1", data) is None
    assert recipient("capaflow.capa.due_soon.v1", {"owner": None}) is None
    assert recipient("capaflow.capa.due_soon.v1", {"owner": "  "}) is None


@pytest.mark.parametrize(("owner", "domain", "address"), [
    ("ann@example.com", None, "ann@example.com"),
    ("ann@example.com", "corp.example", "ann@example.com"),  # an address stays itself
    ("ann", None, None),                                      # no domain: nowhere to write
    ("ann", "corp.example", "ann@corp.example"),
    ("ann.o'neil+qa", "corp.example", "ann.o'neil+qa@corp.example"),
    ("ann smith", "corp.example", None),                      # no address takes the blank
    ("ännä", "corp.example", None),                           # nor letters beyond ASCII
    ("ann@localhost", None, None),                            # not an address we send to
])
def test_owner_addresses(owner: str, domain: str | None, address: str | None) -> None:
    assert owner_address(owner, domain) == address


def test_a_reminder_e_mail_says_what_is_due_and_when() -> None:
    message = describe({"type": "capaflow.capa.action_due_soon.v1", "data": {
        "capa_id": "c1", "number": "CAPA-2026-00007", "severity": "major",
        "owner": "carla", "action_id": "a1", "kind": "corrective",
        "description": "Release the gasket spec rev C", "action_owner": "ann",
        "due_date": "2026-12-10", "days_left": 3}}, LINKS)
    assert message.title == "CAPA action due soon: CAPA-2026-00007"
    assert "Action: Release the gasket spec rev C" in message.lines
    assert "Due date: 2026-12-10 (in 3 days)" in message.lines
    assert message.link == "http://capa.example/v1/capas/c1"
    today = describe({"type": "capaflow.capa.due_soon.v1", "data": {
        "capa_id": "c1", "number": "CAPA-2026-00007", "due_date": "2026-12-10",
        "days_left": 0, "status": "implementing"}}, LINKS)
    assert "Due date: 2026-12-10 (today)" in today.lines
    check = describe({"type": "capaflow.capa.effectiveness_check_due.v1", "data": {
        "capa_id": "c1", "number": "CAPA-2026-00007", "check_date": "2026-12-01",
        "criteria": "No leak for 30 days", "status": "verifying"}}, LINKS)
    assert check.title == "CAPA effectiveness check due: CAPA-2026-00007"
    assert "Effectiveness check planned for: 2026-12-01" in check.lines
    assert "Criteria: No leak for 30 days" in check.lines



def test_a_scar_falling_due_or_late_is_told_to_the_capas_owner() -> None:
    data = {"capa_id": "c1", "number": "CAPA-2026-00007", "owner": "carla",
            "scar_id": "s1", "scar_number": "SCAR-2026-0003", "supplier_code": "acme-seals",
            "status": "sent", "due_date": "2026-12-10"}
    soon = describe({"type": "capaflow.scar.due_soon.v1", "data": data | {"days_left": 1}},
                    LINKS)
    # An older event (no supplier name) names the supplier by code.
    assert soon.title == "SCAR-2026-0003 to acme-seals due in 1 day (2026-12-10)"
    named = describe({"type": "capaflow.scar.due_soon.v1",
                      "data": data | {"days_left": 1, "supplier_name": "Acme Seals",
                                      "title": "Seal leaks"}}, LINKS)
    assert named.title == "SCAR-2026-0003 to Acme Seals due in 1 day (2026-12-10)"
    assert "Supplier: Acme Seals (acme-seals)" in named.lines
    assert "CAPA: CAPA-2026-00007 — Seal leaks" in named.lines
    assert "Response due: 2026-12-10" in named.lines
    assert recipient("capaflow.scar.overdue.v1", data) == "carla"
    assert recipient("capaflow.scar.sent.v1", data) is None  # not a notice
