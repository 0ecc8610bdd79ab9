"""The UI offers exactly the services' vocabulary: every value has its one label,
and no page keeps a list of its own."""

import ast
from pathlib import Path

import pytest

from services.web.pages import choices
from shared import vocabulary

PAGES = Path(choices.__file__).parent


@pytest.mark.parametrize("vocab", list(choices.LABELLED), ids=lambda v: v.__name__)
def test_every_value_of_a_labelled_vocabulary_has_a_label(vocab: type) -> None:
    assert set(choices.LABELLED[vocab]) == {m.value for m in vocab}


def test_the_menus_follow_the_vocabulary() -> None:
    assert choices.SEVERITIES == ("critical", "major", "minor", "observation")
    assert set(choices.NC_STATUSES) == {s.value for s in vocabulary.NonconformityStatus}
    assert set(choices.CAPA_OPEN_STATES) | set(choices.CAPA_FINISHED_STATES) == {
        s.value for s in vocabulary.CapaStatus}
    assert choices.DELIVERY_STATUSES == tuple(s.value for s in vocabulary.DeliveryStatus)


def test_no_page_spells_out_a_vocabulary_of_its_own() -> None:
    """A tuple of string literals listing a whole vocabulary is a copy that would
    drift from the services (the bug this module removed); subsets naming the
    states a rule allows are rules, not copies."""
    known = [{m.value for m in v} for v in (
        vocabulary.Severity, vocabulary.Source, vocabulary.NonconformityStatus,
        vocabulary.CapaStatus, vocabulary.ActionStatus, vocabulary.CauseCategory,
        vocabulary.Channel, vocabulary.DeliveryMode, vocabulary.DeliveryStatus)]
    offenders = []
    for path in sorted(PAGES.glob("*.py")):
        if path.name == "choices.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Tuple):
                words = {e.value for e in node.elts
                         if isinstance(e, ast.Constant) and isinstance(e.value, str)}
                if len(words) >= 2 and words in known:
                    offenders.append(f"{path.name}:{node.lineno} {sorted(words)}")
    assert offenders == []
