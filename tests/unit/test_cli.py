"""The ``capaflow`` command: routing to the operators' tools, --help for every
subcommand, bad input as exit 2 with a message, and real runs on SQLite."""

import asyncio
import json
import os
import sqlite3
import subprocess
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from services import cli
from services.capa.service.common import AuditKey
from shared.auth import Principal
from tests.conftest import ROOT, unavailable

AUDIT_KEY = "cli-test-audit-key-" + "0123456789abcdef" * 2
SETTINGS_PREFIXES = ("NONCONFORMITY_", "CAPA_", "NOTIFICATIONS_", "WEB_", "CAPAFLOW_")


@pytest.fixture
def place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every database and the key store in a temporary folder, nothing from the shell."""
    for name in list(os.environ):
        if name.startswith(SETTINGS_PREFIXES):
            monkeypatch.delenv(name)
    for service in ("nonconformity", "capa", "notifications", "web"):
        monkeypatch.setenv(f"{service.upper()}_DATABASE_URL",
                           f"sqlite+aiosqlite:///{tmp_path}/{service}.sqlite")
    monkeypatch.setenv("NONCONFORMITY_BUS_DATABASE_URL",
                       f"sqlite+aiosqlite:///{tmp_path}/events.sqlite")
    monkeypatch.setenv("CAPAFLOW_CREDENTIALS_FILE", str(tmp_path / "api-keys.json"))
    monkeypatch.chdir(tmp_path)
    # audit verify sets the process-wide audit key, as the app does: put it back.
    monkeypatch.setattr(AuditKey, "value", AuditKey.value)
    return tmp_path


HELP = [[], ["migrate"], ["credentials"], ["credentials", "dev"], ["credentials", "add"],
        ["credentials", "revoke"], ["credentials", "revoke-key"], ["dlq"], ["dlq", "list"],
        ["dlq", "replay"], ["outbox-dlq"], ["outbox-dlq", "list"], ["outbox-dlq", "show"],
        ["outbox-dlq", "replay"], ["outbox-dlq", "discard"], ["audit"], ["audit", "verify"]]


@pytest.mark.parametrize("words", HELP, ids=lambda words: " ".join(words) or "capaflow")
def test_every_subcommand_has_help(words: list[str], capsys: pytest.CaptureFixture[str]
                                   ) -> None:
    assert cli.main([*words, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: {' '.join(['capaflow', *words])} "), out[:200]


def test_the_overview_names_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    cli.main(["--help"])
    out = capsys.readouterr().out
    for command in ("migrate", "credentials", "dlq", "outbox-dlq", "audit"):
        assert f"\n    {command}" in out, command


BAD = [
    ([], "required: COMMAND"),
    (["deploy"], "invalid choice: 'deploy'"),
    (["migrate"], "required: target"),
    (["migrate", "everything"], "invalid choice: 'everything'"),
    (["migrate", "web", "--key-legacy-chains"], "--key-legacy-chains is for the capa"),
    (["migrate", "capa", "--bus-url", "sqlite+aiosqlite:///x"], "--bus-url is for"),
    (["credentials"], "required: ACTION"),
    (["credentials", "add", "alice"], "required: ROLE"),
    (["credentials", "add", "alice", "wizard"], "unknown roles ['wizard']"),
    (["credentials", "revoke"], "required: subject"),
    # The subject is the author of every record the key writes: it must fit there.
    (["credentials", "add", "a" * 128, "reporter"], "at most 127 characters"),
    (["dlq"], "required: command"),
    (["dlq", "list"], "required: --group"),
    (["dlq", "list", "--group", "capa", "--bus", "rabbit"], "invalid choice: 'rabbit'"),
    (["dlq", "list", "--group", "capa", "--bus", "kafka", "--bootstrap", "host:xx"],
     "capaflow dlq: invalid literal"),
    (["outbox-dlq", "list"], "required: --service"),
    (["outbox-dlq", "--service", "billing", "list"], "invalid choice: 'billing'"),
    (["outbox-dlq", "--service", "capa", "show"], "required: ID"),
    (["audit"], "required: ACTION"),
    (["audit", "forge"], "invalid choice: 'forge'"),
]


@pytest.mark.parametrize(("words", "says"), BAD, ids=lambda v: " ".join(v) if isinstance(v, list)
                         else "")
def test_bad_input_exits_2_with_a_message(words: list[str], says: str, place: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(words) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err, err


@pytest.mark.parametrize(("variable", "value", "words", "says"), [
    ("CAPA_DATABASE_URL", "not a url", ["migrate", "capa"], "Could not parse"),
    ("CAPA_AUDIT_KEY", "too-short", ["audit", "verify"], "CAPA_AUDIT_KEY"),
    ("CAPA_DATABASE_URL", "sqlite+aiosqlite:///{tmp}/nowhere.sqlite", ["audit", "verify"],
     "no database at"),
    ("CAPA_DUE_DAYS", "[bad", ["migrate", "capa"], "due_days"),
    ("NOTIFICATIONS_OUTBOX_BATCH_SIZE", "0", ["migrate", "notifications"],
     "NOTIFICATIONS_OUTBOX_BATCH_SIZE"),
])
def test_a_bad_setting_exits_2_naming_it(variable: str, value: str, words: list[str],
                                         says: str, place: Path,
                                         monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(variable, value.format(tmp=place))
    assert cli.main(words) == 2
    err = capsys.readouterr().err
    assert err.startswith("capaflow: ") and says in err and "Traceback" not in err, err
    assert not (place / "nowhere.sqlite").exists()


def test_a_database_that_does_not_answer_exits_1(place: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    # Port 1 on loopback: refused at once.
    monkeypatch.setenv("CAPA_DATABASE_URL", "postgresql+asyncpg://capaflow@127.0.0.1:1/capa")
    assert cli.main(["migrate", "capa"]) == 1
    assert "the database did not answer" in capsys.readouterr().err


def test_a_bus_that_does_not_answer_exits_1_in_one_line(
        place: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Port 1 on loopback: refused at once; a traceback here was a reviewer's finding.
    assert cli.main(["dlq", "list", "--group", "capa", "--bus", "kafka",
                     "--bootstrap", "127.0.0.1:1"]) == 1
    err = capsys.readouterr().err
    assert "capaflow dlq: the bus did not answer" in err and "Traceback" not in err, err


def test_outbox_dead_letters_of_a_missing_database_create_none(
        place: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = place / "gone.sqlite"
    assert cli.main(["outbox-dlq", "--service", "capa", "--database-url",
                     f"sqlite+aiosqlite:///{missing}", "list"]) == 2
    assert "no database at" in capsys.readouterr().err
    assert not missing.exists()


def test_an_outbox_id_beyond_64_bits_names_no_row(
        place: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["migrate", "capa"]) == 0
    capsys.readouterr()
    assert cli.main(["outbox-dlq", "--service", "capa", "show", str(2 ** 63)]) == 1
    assert cli.main(["outbox-dlq", "--service", "capa", "replay", "9" * 5000]) == 1
    err = capsys.readouterr().err
    assert "no outbox row" in err and "not found among" in err and "Traceback" not in err


def test_a_key_store_that_cannot_be_written_is_one_line(
        place: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CAPAFLOW_CREDENTIALS_FILE", str(place))  # a directory
    assert cli.main(["credentials", "add", "alice", "engineer"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("capaflow: ") and "database" not in err and "Traceback" not in err


def test_delegated_commands_get_their_words_and_name(monkeypatch: pytest.MonkeyPatch) -> None:
    import shared.dlq_cli
    import shared.outbox_dlq

    calls: list[tuple[str, list[str], str]] = []
    for module in (shared.dlq_cli, shared.outbox_dlq):
        monkeypatch.setattr(module, "main", lambda argv, prog, name=module.__name__:
                            calls.append((name, list(argv), prog)) or 0)
    assert cli.main(["dlq", "replay", "--group", "capa", "--event-id", "e1"]) == 0
    assert cli.main(["outbox-dlq", "--service", "capa", "discard", "7", "8"]) == 0
    assert calls == [
        ("shared.dlq_cli", ["replay", "--group", "capa", "--event-id", "e1"], "capaflow dlq"),
        ("shared.outbox_dlq", ["--service", "capa", "discard", "7", "8"],
         "capaflow outbox-dlq")]


@pytest.mark.parametrize(("words", "expected"), [
    (["credentials", "dev"], ["dev"]),
    (["credentials", "add", "alice", "engineer", "verifier"],
     ["add", "alice", "engineer", "verifier"]),
    (["credentials", "revoke", "alice"], ["revoke", "alice"]),
    (["credentials", "revoke-key"], ["revoke-key"]),
])
def test_credentials_route_to_the_key_store_tool(words: list[str], expected: list[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import shared.credentials

    seen: list[list[str]] = []
    monkeypatch.setattr(shared.credentials, "main", lambda argv: seen.append(argv) or 3)
    assert cli.main(words) == 3  # its exit code is the command's
    assert seen == [expected]


@pytest.mark.parametrize(("bus", "expected"), [
    ("sql", ["nonconformity", "capa", "notifications", "web", "bus"]),
    ("kafka", ["nonconformity", "capa", "notifications", "web"])])
def test_migrate_all_migrates_the_event_log_only_on_the_sql_bus(
        bus: str, expected: list[str], place: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    done: list[str] = []
    monkeypatch.setattr(cli, "_migrate_one", lambda target, args: done.append(target))
    monkeypatch.setenv("NONCONFORMITY_BUS", bus)
    assert cli.main(["migrate", "all"]) == 0
    assert done == expected


def test_migrate_all_then_keys_then_audit_verify_on_sqlite(
        place: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["migrate", "all"]) == 0
    assert {p.name for p in place.glob("*.sqlite")} == {
        "nonconformity.sqlite", "capa.sqlite", "notifications.sqlite", "web.sqlite",
        "events.sqlite"}
    # Migrating again is a no-op, as the Jobs and deploy/migrate.sh rely on.
    assert cli.main(["migrate", "all"]) == 0

    assert cli.main(["credentials", "add", "Alice", "engineer"]) == 0
    key = capsys.readouterr().out.strip().splitlines()[-1]
    assert key.startswith("cfk_")
    store = json.loads((place / "api-keys.json").read_text())
    assert [(e["subject"], e["roles"]) for e in store["keys"]] == [("alice", ["engineer"])]
    assert key not in (place / "api-keys.json").read_text()  # only its hash

    monkeypatch.setenv("CAPA_AUDIT_KEY", AUDIT_KEY)
    first, second = asyncio.run(_open_two_capas(place))
    assert cli.main(["audit", "verify"]) == 0
    out = capsys.readouterr().out
    assert f"{first}\t" in out and f"{second}\t" in out and "BROKEN" not in out

    # An edit made with database access but without the key shows.
    with sqlite3.connect(place / "capa.sqlite") as db:
        db.execute("UPDATE capa_audit_entries SET actor = 'mallory' WHERE capa_id = "
                   "(SELECT id FROM capas WHERE number = ?)", (second,))
    assert cli.main(["audit", "verify"]) == 1
    lines = {line.split("\t")[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "\tintact\t" in lines[first]
    assert "\tBROKEN at 1\t" in lines[second] and "altered" in lines[second]

    assert cli.main(["audit", "verify", first]) == 0
    assert cli.main(["audit", "verify", first, "CAPA-1999-0001"]) == 1
    assert "no such CAPA: CAPA-1999-0001" in capsys.readouterr().err

    assert cli.main(["credentials", "revoke", "alice"]) == 0
    assert json.loads((place / "api-keys.json").read_text())["keys"] == []


async def _open_two_capas(place: Path) -> tuple[str, str]:
    from services.capa.schemas import CapaCreate
    from services.capa.service import opening_policy
    from services.capa.service.opening import open_capa
    from services.capa.settings import CapaSettings
    from shared.db import create_engine, session_factory

    settings = CapaSettings()
    AuditKey.use(AUDIT_KEY)
    engine = create_engine(settings.database_url)
    try:
        numbers = []
        for title in ("Seal leak on line 3", "Torque drift on station 7"):
            view = await open_capa(
                session_factory(engine), principal=Principal("eve", frozenset({"engineer"})),
                request=CapaCreate(title=title, severity="major"),  # type: ignore[arg-type]
                policy=opening_policy(settings), now=datetime.now(UTC))
            numbers.append(view.number)
    finally:
        await engine.dispose()
    return numbers[0], numbers[1]


def test_the_project_script_points_at_this_command() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, function = scripts["capaflow"].partition(":")
    assert (module, function) == ("services.cli", "main")


def test_the_installed_console_script_migrates_and_makes_keys(tmp_path: Path) -> None:
    """The real ``capaflow`` the venv's install made (make venv), on this checkout's code.
    CAPAFLOW_TEST_SCRIPT names another install of it (e.g. one made with pip --target)."""
    script = Path(os.environ.get("CAPAFLOW_TEST_SCRIPT") or ROOT / ".venv" / "bin" / "capaflow")
    if not script.exists():
        unavailable(f"{script} is missing: reinstall the project (make venv)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(SETTINGS_PREFIXES)}
    env |= {f"{s.upper()}_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/{s}.sqlite"
            for s in ("nonconformity", "capa", "notifications", "web")}
    env |= {"NONCONFORMITY_BUS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/events.sqlite",
            "CAPAFLOW_CREDENTIALS_FILE": str(tmp_path / "api-keys.json"),
            "PYTHONPATH": str(ROOT)}

    def run(*words: str, stdin: str = "") -> Any:
        return subprocess.run([str(script), *words], cwd=tmp_path, env=env, input=stdin,
                              capture_output=True, text=True, timeout=120)

    migrated = run("migrate", "all")
    assert migrated.returncode == 0, migrated.stderr
    assert migrated.stdout.split() == ["migrated", "nonconformity", "migrated", "capa",
                                       "migrated", "notifications", "migrated", "web",
                                       "migrated", "bus"]
    added = run("credentials", "add", "quality-bot", "reporter")
    assert added.returncode == 0, added.stderr
    key = added.stdout.strip()
    assert run("credentials", "revoke-key", stdin=key + "\n").stdout.strip() == \
        "revoked 1 key(s)"
    bad = run("migrate", "everything")
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
    assert "Traceback" not in bad.stderr
