"""The supplier's notices (service.scar_notices) and the SCAR rules behind the loop
(domain.scar): what each e-mail says, that none carries a link, a returned
response must change, a SCAR goes to the CAPA's supplier."""

import uuid
from datetime import UTC, date, datetime

import pytest

from services.capa.domain.scar import check_revised, check_scar_supplier
from services.capa.service.scar_notices import ScarNotice, compose
from shared.errors import Conflict
from shared.vocabulary import ScarStatus


def _notice(kind: str, reason: str | None = None) -> ScarNotice:
    return ScarNotice(kind=kind, scar_id=uuid.uuid4(), number="SCAR-2026-0007",  # type: ignore[arg-type]
                      to="jana@acme.example", contact_name="Jana <Novak>",
                      request="Gaskets harden", due_date=date(2026, 12, 21),
                      link_expires_at=datetime(2027, 2, 5, 9, 0, tzinfo=UTC), reason=reason)


@pytest.mark.parametrize(("kind", "subject", "says"), [
    ("rejected", "SCAR-2026-0007: your response was returned, please revise it by 2026-12-21",
     ["What it lacks: Transit stock", "valid until 2027-02-05 09:00 UTC"]),
    ("withdrawn", "SCAR-2026-0007 withdrawn: no response needed",
     ["need not answer", "Why: Transit stock"]),
    ("due_soon", "Reminder: SCAR-2026-0007 response due 2026-12-21",
     ["is due on 2026-12-21", "valid until 2027-02-05 09:00 UTC"]),
    ("overdue", "SCAR-2026-0007: response overdue since 2026-12-21",
     ["was due on 2026-12-21", "open the link of our first e-mail"]),
])
def test_each_notice_says_what_happened_and_how_to_answer(kind: str, subject: str,
                                                         says: list[str]) -> None:
    mail = compose(_notice(kind, "Transit stock"))
    assert mail.subject == subject and mail.to == "jana@acme.example"
    for words in says:
        assert words in mail.text
    assert "Gaskets harden" in mail.text
    assert "/supplier-response/" not in mail.text and "http" not in mail.text
    assert "Jana &lt;Novak&gt;" in (mail.html or "")


def test_a_returned_response_must_change() -> None:
    text = {"containment": "Quarantined"}
    with pytest.raises(Conflict, match="Revise the response before submitting it again"):
        check_revised(ScarStatus.rejected, response=text, submitted=dict(text),
                      files=frozenset({"a"}), submitted_files=frozenset({"a"}))
    check_revised(ScarStatus.rejected, response={"containment": "Quarantined, transit too"},
                  submitted=text, files=frozenset({"a"}), submitted_files=frozenset({"a"}))
    check_revised(ScarStatus.rejected, response=text, submitted=text,
                  files=frozenset({"a", "b"}), submitted_files=frozenset({"a"}))
    check_revised(ScarStatus.sent, response=text, submitted=None, files=frozenset(),
                  submitted_files=frozenset())


def test_a_scar_goes_to_the_capas_supplier() -> None:
    check_scar_supplier("acme-seals", "acme-seals")
    check_scar_supplier(None, "euro-pcb")
    with pytest.raises(Conflict, match="about supplier acme-seals"):
        check_scar_supplier("acme-seals", "euro-pcb")
