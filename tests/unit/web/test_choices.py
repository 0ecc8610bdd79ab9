"""The UI offers exactly the services' vocabulary: every value has its one label,
and no page keeps a list of its own."""

import ast
import re
from pathlib import Path

import pytest

from services.web.deps import templates
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


# Every status value a page or template might compare the API's answers with.
# "duplicate" is left out: it is also the triage decision the NC form sends.
STATUS_VALUES = {m.value for v in (
    vocabulary.NonconformityStatus, vocabulary.CapaLink, vocabulary.CapaStatus,
    vocabulary.ActionStatus, vocabulary.DeliveryStatus) for m in v} - {"duplicate"}
TEMPLATES = PAGES.parent / "templates"


def status_literals_in_python(source: str) -> set[tuple[int, str]]:
    """String constants equal to a status value where the code compares with them
    (``==``, ``in (...)``) or keys a dict or lists them in a tuple or set."""
    def candidates(node: ast.AST) -> list[ast.expr | None]:
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            return [e for o in operands
                    for e in (o.elts if isinstance(o, ast.Tuple | ast.List | ast.Set) else [o])]
        if isinstance(node, ast.Dict):
            return list(node.keys)
        if isinstance(node, ast.Tuple | ast.Set):
            return list(node.elts)
        return []
    return {(e.lineno, e.value) for node in ast.walk(ast.parse(source)) for e in candidates(node)
            if isinstance(e, ast.Constant) and e.value in STATUS_VALUES}


def status_literals_in_template(source: str) -> set[tuple[int, str]]:
    """Quoted status values inside Jinja tags (``{% if x == "open" %}``, a default):
    templates compare with the vocabulary members deps.py makes global, or with
    what the page computed."""
    found = set()
    for tag in re.finditer(r"\{[{%].*?[%}]\}", source, re.S):
        for literal in re.finditer(r"(['\"])(\w*)\1", tag.group()):
            if literal.group(2) in STATUS_VALUES:
                found.add((source.count("\n", 0, tag.start()) + 1, literal.group(2)))
    return found


def test_the_checks_catch_a_spelled_out_status() -> None:
    """The two checks below would see the literals this module replaced."""
    assert status_literals_in_python(
        'ok = a["status"] not in ("done", "cancelled")\nif to == "closed": pass\n'
        'LABELS = {"investigating": "Start"}\nx = link in {"requested"}\n') == {
        (1, "done"), (1, "cancelled"), (2, "closed"), (3, "investigating"), (4, "requested")}
    assert status_literals_in_python('if to == CapaStatus.closed: body = {"to": to}\n') == set()
    assert status_literals_in_template(
        '{% if nc.capa_link == "requested" %}requested{% endif %}\n'
        "<p>{{ 'x' if s in ('done', 'cancelled') }}</p>{{ st.value('status', 'done') }}") == {
        (1, "requested"), (2, "done"), (2, "cancelled")}
    assert status_literals_in_template(
        '{% if d.status == DeliveryStatus.pending %}open{% endif %}') == set()


@pytest.mark.parametrize("path", sorted(PAGES.glob("*.py")), ids=lambda p: p.name)
def test_no_page_spells_out_a_status(path: Path) -> None:
    """A page compares the API's statuses with shared.vocabulary's members (a
    StrEnum member equals the string the API returns), so a renamed or removed
    value breaks the import, not silently the page."""
    assert status_literals_in_python(path.read_text()) == set()


@pytest.mark.parametrize("path", sorted(TEMPLATES.glob("*.html")), ids=lambda p: p.name)
def test_no_template_spells_out_a_status(path: Path) -> None:
    assert status_literals_in_template(path.read_text()) == set()


def test_the_templates_see_the_status_vocabularies() -> None:
    for name, vocab in choices.TEMPLATE_VOCABULARY.items():
        assert templates.env.globals[name] is vocab is getattr(vocabulary, name)
    rendered = templates.env.from_string(
        "{{ 'yes' if link == CapaLink.requested else 'no' }}").render(link="requested")
    assert rendered == "yes"
