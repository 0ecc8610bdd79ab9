"""The contract's labels (shared.vocabulary_labels): every value of the published
vocabulary has one, so a new status cannot ship unlabelled to the web, the
e-mails or the review pack, and the services read the one table."""

import inspect
from enum import StrEnum

import pytest

from services.capa.domain.review_labels import shown
from services.notifications.domain import wording
from services.web.pages import choices
from shared import vocabulary, vocabulary_labels
from shared.vocabulary import ActionKind, CapaStatus, ScarStatus

PUBLISHED = [v for _, v in inspect.getmembers(vocabulary, inspect.isclass)
             if issubclass(v, StrEnum) and v is not StrEnum]


@pytest.mark.parametrize("kind", list(vocabulary_labels.LABELS), ids=lambda v: v.__name__)
def test_every_member_of_a_labelled_vocabulary_has_a_label(kind: type[StrEnum]) -> None:
    table = vocabulary_labels.LABELS[kind]
    assert set(table) == {m.value for m in kind}
    assert all(text.strip() and text != value for value, text in table.items())


def test_every_vocabulary_published_has_a_table() -> None:
    unlabelled = {v.__name__ for v in PUBLISHED} - {k.__name__ for k in vocabulary_labels.LABELS}
    assert unlabelled == set()


def test_label_reads_the_table_and_leaves_the_unknown_to_the_caller() -> None:
    assert vocabulary_labels.label(CapaStatus, "verifying") == "Verifying effectiveness"
    assert vocabulary_labels.label(CapaStatus, CapaStatus.verifying) == "Verifying effectiveness"
    assert vocabulary_labels.label(ActionKind, "correction") == "Correction (immediate fix)"
    assert vocabulary_labels.label(CapaStatus, "on_hold") is None


def test_the_web_the_e_mails_and_the_review_pack_say_the_same() -> None:
    for kind, table in choices.LABELLED.items():
        assert table == vocabulary_labels.LABELS[kind], kind.__name__
    assert wording.words(ScarStatus.rejected, wording.SCAR_STATUS) == "Returned to the supplier"
    assert choices.label(ScarStatus.revoked, ScarStatus) == "Withdrawn"
    assert wording.words(CapaStatus.verifying, wording.CAPA_STATUS) == choices.label(
        CapaStatus.verifying, CapaStatus)
    assert shown("status", {"status": "action_planned"}) == "Actions planned"
    assert shown("kind", {"kind": "correction"}) == "Correction (immediate fix)"
    assert shown("criticality", {"criticality": "high"}) == "High"
