"""Which tests show which requirement: the ``@pytest.mark.requirement(...)`` markers, read
from the test files' syntax trees.

Why the AST and not ``pytest --collect-only``: collecting imports every test module and its
fixtures' dependencies (Playwright, schemathesis, the services' apps), takes tens of seconds
on a small machine, and depends on which optional tools are installed; reading the source
needs none of it, so the matrix regenerates (and its staleness test runs) in well under a
second anywhere. The price is that only literal forms are understood: a marker on a test
function or a ``Test*`` class (as a decorator), or in a module's ``pytestmark``, with string
literals for ids. Any other use of the marker is an error here, so the matrix can never
silently miss one; the conftest hook checks the ids again on what pytest really collects.
"""

import ast
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from shared.compliance.requirements import BY_ID

MARKER = "requirement"


class MarkerError(ValueError):
    """A marker the matrix cannot read, or one naming an unknown requirement."""


@dataclass(frozen=True, order=True)
class MarkedTest:
    path: str  # relative to the repository root, with forward slashes
    name: str

    @property
    def nodeid(self) -> str:
        return f"{self.path}::{self.name}"


def _is_marker(node: ast.AST) -> bool:
    """``pytest.mark.requirement`` or ``mark.requirement``."""
    if not (isinstance(node, ast.Attribute) and node.attr == MARKER):
        return False
    owner = node.value
    return (isinstance(owner, ast.Name) and owner.id == "mark") or (
        isinstance(owner, ast.Attribute) and owner.attr == "mark")


class _FileReader:
    def __init__(self, path: Path, rel: str) -> None:
        self.rel = rel
        self.tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        self.read: set[int] = set()  # id() of every marker Call taken into account

    def fail(self, node: ast.AST, message: str) -> MarkerError:
        return MarkerError(f"{self.rel}:{getattr(node, 'lineno', '?')}: {message}")

    def ids_in(self, node: ast.AST) -> list[str]:
        """The requirement ids of every marker call inside ``node`` (a decorator or value)."""
        ids: list[str] = []
        for call in ast.walk(node):
            if not (isinstance(call, ast.Call) and _is_marker(call.func)):
                continue
            self.read.add(id(call))
            if call.keywords or not call.args:
                raise self.fail(call, "requirement() takes one or more requirement ids only")
            for arg in call.args:
                if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
                    raise self.fail(arg, "requirement ids must be string literals")
                if arg.value not in BY_ID:
                    raise self.fail(arg, f"unknown requirement id {arg.value!r} "
                                         "(shared/compliance/requirements.py lists them)")
                ids.append(arg.value)
        return ids

    def decorators(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef,
                   ) -> list[str]:
        return [i for d in node.decorator_list for i in self.ids_in(d)]

    def tests(self) -> list[tuple[str, list[str]]]:
        module: list[str] = []
        for stmt in self.tree.body:
            if isinstance(stmt, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "pytestmark" for t in stmt.targets):
                module += self.ids_in(stmt.value)
        found: list[tuple[str, list[str]]] = []
        for stmt in self.tree.body:
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef) and \
                    stmt.name.startswith("test"):
                found.append((stmt.name, module + self.decorators(stmt)))
            elif isinstance(stmt, ast.ClassDef) and stmt.name.startswith("Test"):
                outer = module + self.decorators(stmt)
                for inner in stmt.body:
                    if isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef) and \
                            inner.name.startswith("test"):
                        found.append((f"{stmt.name}::{inner.name}",
                                      outer + self.decorators(inner)))
        self.refuse_the_rest()
        return found

    def refuse_the_rest(self) -> None:
        """Every mention of the marker must have been read above."""
        calls = {id(n.func) for n in ast.walk(self.tree)
                 if isinstance(n, ast.Call) and id(n) in self.read}
        for node in ast.walk(self.tree):
            if _is_marker(node) and id(node) not in calls:
                raise self.fail(node, "a requirement marker must decorate a test function "
                                      "or Test class, or sit in the module's pytestmark")


def collect(root: Path, tests_dir: str = "tests") -> dict[str, list[MarkedTest]]:
    """Requirement id -> the tests marked with it, in path and name order."""
    shown: defaultdict[str, set[MarkedTest]] = defaultdict(set)
    for path in sorted((root / tests_dir).rglob("test_*.py")):
        rel = path.relative_to(root).as_posix()
        for name, ids in _FileReader(path, rel).tests():
            for requirement in ids:
                shown[requirement].add(MarkedTest(rel, name))
    return {requirement: sorted(refs) for requirement, refs in sorted(shown.items())}
