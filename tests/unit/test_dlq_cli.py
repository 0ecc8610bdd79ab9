"""shared.dlq refuses, in one line and with exit 2, a bus it cannot name.

An outside review ran ``--env-prefix CAPA_`` without CAPA_BUS: the tool took
the sql bus's default, created an empty var/events.sqlite and printed ~100
lines of traceback (``no such table: consumer_offsets``).
"""

import sqlite3
from pathlib import Path

import pytest

from shared import dlq_cli


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = dlq_cli.main(list(argv))
    return code, capsys.readouterr().err


@pytest.fixture(autouse=True)
def _elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The default event log is relative (var/events.sqlite): keep it in tmp_path.
    monkeypatch.chdir(tmp_path)
    for name in ("DLQCLI_BUS", "DLQCLI_BUS_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("command", ["list", "replay"])
def test_a_prefix_without_its_bus_setting_is_refused(
        command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _run(capsys, command, "--group", "capa", "--env-prefix", "DLQCLI_")
    assert code == 2
    assert "DLQCLI_BUS is not set" in err and "--bus" in err
    assert "Traceback" not in err and len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_a_missing_sqlite_event_log_is_refused_and_not_created(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "events.sqlite"
    monkeypatch.setenv("DLQCLI_BUS", "sql")
    monkeypatch.setenv("DLQCLI_BUS_DATABASE_URL", f"sqlite+aiosqlite:///{missing}")
    code, err = _run(capsys, "list", "--group", "capa", "--env-prefix", "DLQCLI_")
    assert code == 2
    assert f"no event log at {missing}" in err and "DLQCLI_BUS_DATABASE_URL" in err
    assert not missing.exists()
    # Without a prefix: the make-run default, relative to where it runs.
    code, err = _run(capsys, "replay", "--group", "capa")
    assert code == 2 and "no event log at var/events.sqlite" in err and "--url" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["list", "replay"])
def test_a_database_without_the_event_log_tables_is_refused(
        command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "service.sqlite"
    sqlite3.connect(empty).close()
    code, err = _run(capsys, command, "--group", "capa", "--bus", "sql",
                     "--url", f"sqlite+aiosqlite:///{empty}")
    assert code == 2
    assert "has no event_log table" in err and "--url" in err
    assert "Traceback" not in err and len(err.splitlines()) == 1
