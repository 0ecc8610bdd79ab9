"""Fixtures shared by the e2e files (see tests/e2e/web_stack.py)."""

from collections.abc import Iterator

import pytest

from tests.e2e.web_stack import Ui, running_ui


@pytest.fixture(scope="session")
def default_web_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ui]:
    """ONE `make run` stack (SQLite + sql bus, web=True) for the whole session,
    started by the first web file that asks for it."""
    with running_ui({"BUS": "sql"}, tmp_path_factory.mktemp("web-shared")) as ui:
        yield ui
