"""The traceability matrix: its catalog, the marker reader, and docs/compliance.md kept fresh."""

import re
from pathlib import Path

import pytest

from shared.compliance import matrix
from shared.compliance.features import Feature
from shared.compliance.markers import MarkedTest, MarkerError, collect
from shared.compliance.requirements import BY_ID, REQUIREMENTS, unknown

pytest_plugins = ["pytester"]

DOCS = matrix.ROOT / "docs"


@pytest.mark.requirement("part11-11.10k")
def test_committed_matrix_is_fresh() -> None:
    assert matrix.main(["--check"]) == 0, "run `make compliance` and commit docs/compliance.md"


def test_the_catalog_holds_every_clause_the_matrix_promises() -> None:
    expected = {
        *(f"iso9001-10.2.1{letter}" for letter in "abcdef"), "iso9001-10.2.2",
        *(f"iso13485-8.5.2{letter}" for letter in "abcdef"),
        "iso13485-8.5.2-timely", "iso13485-8.5.2-records",
        *(f"cfr820-100a{n}" for n in range(1, 8)), "cfr820-100b",
        *(f"part11-11.10{letter}" for letter in "abcdefghijk"),
        "part11-11.50", "part11-11.70", "part11-11.100", "part11-11.200",
    }
    ids = [r.id for r in REQUIREMENTS]
    assert len(ids) == len(set(ids)), "a requirement id is listed twice"
    assert set(ids) == expected


def test_each_requirement_says_what_meets_it_or_why_nothing_does() -> None:
    for requirement in REQUIREMENTS:
        assert requirement.asks.endswith("."), requirement.id
        assert requirement.features or requirement.note, requirement.id


def test_every_feature_points_at_a_heading_of_its_doc() -> None:
    features = {f for r in REQUIREMENTS for f in r.features}
    for feature in features:
        headings = re.findall(r"^#+ (.+)$", (DOCS / feature.doc).read_text(), re.M)
        assert feature.section in headings, f"{feature.name}: no heading {feature.section!r}"


def test_anchors_are_the_ones_markdown_renderers_make() -> None:
    feature = Feature("x", "x", "capa.md", "Management-review figures (ISO 9001 9.3)")
    assert feature.anchor == "management-review-figures-iso-9001-93"
    assert Feature("x", "x", "n.md", "Triage, correction, close").anchor == \
        "triage-correction-close"


def test_a_requirement_shown_by_tests_names_the_feature_that_meets_it() -> None:
    for requirement_id in collect(matrix.ROOT):
        assert BY_ID[requirement_id].features, (
            f"{requirement_id} is shown by tests but the catalog names no feature for it")


def test_unknown_ids_are_named_once_in_order() -> None:
    assert unknown(["iso9001-10.2.1a", "iso9001-10.2.9", "x", "iso9001-10.2.9"]) == \
        ["iso9001-10.2.9", "x"]


def _tests_dir(tmp_path: Path, source: str) -> Path:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_sample.py").write_text(source)
    return tmp_path


def test_markers_are_read_from_functions_classes_and_pytestmark(tmp_path: Path) -> None:
    root = _tests_dir(tmp_path, '''
import pytest
from pytest import mark

pytestmark = [pytest.mark.postgres, pytest.mark.requirement("part11-11.10e")]

@pytest.mark.parametrize("n", [1, 2])
@pytest.mark.requirement("iso9001-10.2.1a", "iso9001-10.2.1b")
async def test_async(n): ...

def test_plain(): ...

def helper_not_a_test(): ...

@mark.requirement("iso9001-10.2.1c")
class TestGroup:
    @pytest.mark.requirement("iso9001-10.2.1d")
    def test_inner(self): ...
''')
    path = "tests/test_sample.py"
    every = [MarkedTest(path, "TestGroup::test_inner"), MarkedTest(path, "test_async"),
             MarkedTest(path, "test_plain")]
    assert collect(root) == {
        "iso9001-10.2.1a": [MarkedTest(path, "test_async")],
        "iso9001-10.2.1b": [MarkedTest(path, "test_async")],
        "iso9001-10.2.1c": [MarkedTest(path, "TestGroup::test_inner")],
        "iso9001-10.2.1d": [MarkedTest(path, "TestGroup::test_inner")],
        "part11-11.10e": every,
    }
    assert every[0].nodeid == "tests/test_sample.py::TestGroup::test_inner"


@pytest.mark.parametrize(("source", "message"), [
    ('@pytest.mark.requirement("iso9001-10.2.9")\ndef test_a(): ...',
     r"tests/test_sample.py:1: unknown requirement id 'iso9001-10.2.9'"),
    ('IDS = ["iso9001-10.2.1a"]\n@pytest.mark.requirement(*IDS)\ndef test_a(): ...',
     r":2: requirement ids must be string literals"),
    ('@pytest.mark.requirement()\ndef test_a(): ...', r"one or more requirement ids only"),
    ('@pytest.mark.requirement(ids="iso9001-10.2.1a")\ndef test_a(): ...',
     r"one or more requirement ids only"),
    ('SHOWS = pytest.mark.requirement("iso9001-10.2.1a")\n@SHOWS\ndef test_a(): ...',
     r":1: a requirement marker must decorate a test function"),
    ('def test_a():\n    pytest.param(1, marks=pytest.mark.requirement("iso9001-10.2.1a"))',
     r":2: a requirement marker must decorate"),
])
def test_markers_the_reader_cannot_vouch_for_are_refused(tmp_path: Path, source: str,
                                                          message: str) -> None:
    root = _tests_dir(tmp_path, source)
    with pytest.raises(MarkerError, match=message):
        collect(root)


def test_the_matrix_lists_tests_and_what_nothing_covers() -> None:
    shown = {"iso9001-10.2.1a": [MarkedTest("tests/unit/test_x.py", "test_reacts")]}
    text = matrix.render(shown)
    assert "- [`tests/unit/test_x.py::test_reacts`](../tests/unit/test_x.py)" in text
    uncovered = text.split("## Not covered yet", 1)[1]
    listed = set(re.findall(r"^\| \[`([^`]+)`\]", uncovered, re.M))
    assert listed == {r.id for r in REQUIREMENTS} - {"iso9001-10.2.1a"}
    assert "| ISO 9001:2015 | 7 | 1 | 6 |" in text
    assert "not a\ncertification" in text.replace("**", "")


def test_a_marker_naming_an_unknown_id_fails_the_test_run(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("from tests.conftest import pytest_collection_modifyitems  # noqa")
    pytester.makepyfile(test_marked='''
import pytest

@pytest.mark.requirement("iso9001-10.2.1a")
def test_known(): ...

@pytest.mark.requirement("iso9001-10.2.1a", "iso9001-10.2.9")
def test_misspelt(): ...
''')
    result = pytester.runpytest("--collect-only", "-q", "-p", "no:cacheprovider",
                                "-p", "no:asyncio")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*test_marked.py::test_misspelt: unknown requirement id "
                                 "'iso9001-10.2.9'*"])
    assert "test_known: unknown" not in result.stderr.str()
