"""docker-compose.yml and deploy/docker/Dockerfile checked without a container
engine: the Compose file against the Compose specification's JSON schema
(tests/data/compose-spec.json, see tests/data/README.md), every command our
image runs resolved against the code, and every variable a service gets
checked against the settings class of its prefix (extra="ignore" would drop a
misspelt one without a word)."""

import hashlib
import importlib
import json
import re
import tomllib
from functools import cache
from typing import Any

import jsonschema_rs
import pytest
import yaml
from sqlalchemy.engine import make_url

from tests.conftest import ROOT

COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"
SCHEMA = ROOT / "tests" / "data" / "compose-spec.json"
OUR_IMAGE = "capaflow:dev"
SETTINGS = {"NONCONFORMITY_": ("services.nonconformity.settings", "NonconformitySettings"),
            "CAPA_": ("services.capa.settings", "CapaSettings"),
            "NOTIFICATIONS_": ("services.notifications.settings", "NotificationsSettings"),
            "WEB_": ("services.web.settings", "WebSettings")}
# The compose service that runs each app, by the settings prefix it serves.
APPS = {"nonconformity": "NONCONFORMITY_", "capa": "CAPA_", "notifications": "NOTIFICATIONS_",
        "web": "WEB_"}


@cache
def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())  # resolves <<: merges
    return loaded


def _validator() -> Any:
    return jsonschema_rs.validator_for(json.loads(SCHEMA.read_text()))


def test_the_vendored_schema_is_the_one_recorded() -> None:
    recorded = re.search(r"sha256: `([0-9a-f]{64})`",
                         (ROOT / "tests" / "data" / "README.md").read_text())
    assert recorded and hashlib.sha256(SCHEMA.read_bytes()).hexdigest() == recorded.group(1)


def test_the_compose_file_follows_the_compose_specification() -> None:
    errors = [f"{'/'.join(map(str, e.instance_path))}: {e.message}"
              for e in _validator().iter_errors(_compose())]
    assert errors == []


@pytest.mark.parametrize(("change", "says"), [
    (lambda c: c["services"]["capa"].update(restart_policy="always"), "restart_policy"),
    (lambda c: c["services"]["web"].update(ports="8000:8000"), "not of type"),
    (lambda c: c["services"]["migrate"]["depends_on"]["postgres"].update(
        condition="service_ready"), "service_ready"),
])
def test_the_schema_refuses_what_compose_refuses(change: Any, says: str) -> None:
    """The check bites: a misspelt key, a wrong type, an unknown condition."""
    broken = json.loads(json.dumps(_compose()))
    change(broken)
    messages = [e.message for e in _validator().iter_errors(broken)]
    assert any(says in message for message in messages), messages


def test_every_interpolation_is_one_compose_understands() -> None:
    """``$`` starts ${NAME}, ${NAME:-default}, ${NAME:?message} or $$ (a literal
    dollar); anything else makes `docker compose` stop before it starts."""
    text = "\n".join(line for line in COMPOSE.read_text().splitlines()
                     if not line.lstrip().startswith("#"))
    assert _bad_interpolations(text) == []
    assert _bad_interpolations("a: $(cat key)\nb: ${OK:-x} $$HOME ${ALSO_OK}") == ["$(cat key)"]


def _bad_interpolations(text: str) -> list[str]:
    bad, at = [], text.find("$")
    while at != -1:
        if text.startswith("$$", at):
            at = text.find("$", at + 2)
            continue
        if not re.match(r"\$\{[A-Za-z_][A-Za-z0-9_]*(:?[-?+][^}$]*)?\}", text[at:]):
            bad.append(text[at:].split("\n")[0])  # the rest of its line
        at = text.find("$", at + 1)
    return bad


def test_the_audit_key_reaches_capa_and_its_migration_from_the_shell_only() -> None:
    for name in ("capa", "migrate"):
        value = _compose()["services"][name]["environment"].get("CAPA_AUDIT_KEY")
        # Required, no default: a key written in this file would be known to everyone.
        assert value and value.startswith("${CAPA_AUDIT_KEY:?"), (name, value)


def _dockerfile() -> dict[str, Any]:
    text = DOCKERFILE.read_text()
    instructions: dict[str, Any] = {}
    for keyword in ("FROM", "ENTRYPOINT", "CMD", "WORKDIR"):
        found = re.findall(rf"(?m)^{keyword} (.+)$", text)
        assert len(found) == 1, keyword
        value = found[0].strip()
        instructions[keyword] = json.loads(value) if value.startswith("[") else value
    instructions["COPY"] = re.findall(r"(?m)^COPY (.+) \S+$", text)
    return instructions


def test_the_image_uses_a_python_the_project_allows_and_copies_what_exists() -> None:
    docker = _dockerfile()
    version = re.fullmatch(r"python:(\d+)\.(\d+)-slim", docker["FROM"])
    assert version, docker["FROM"]
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "requires-python"]
    low, high = re.fullmatch(r">=3\.(\d+),<3\.(\d+)", requires).groups()  # type: ignore[union-attr]
    assert version.group(1) == "3" and int(low) <= int(version.group(2)) < int(high)
    for sources in docker["COPY"]:
        for source in sources.split():
            assert (ROOT / source).exists(), source


def _runs(service: dict[str, Any]) -> list[str]:
    """The argv our image runs for this service: its entrypoint and command, or the image's."""
    docker = _dockerfile()
    entrypoint = service.get("entrypoint", docker["ENTRYPOINT"])
    command = service.get("command", docker["CMD"] if "entrypoint" not in service else [])
    return [*entrypoint, *command]


def _ours() -> dict[str, dict[str, Any]]:
    return {name: service for name, service in _compose()["services"].items()
            if service.get("image") == OUR_IMAGE}


def test_every_service_of_our_image_runs_code_that_exists() -> None:
    ours = _ours()
    assert set(ours) == {"migrate", *APPS}
    for name, service in ours.items():
        argv = _runs(service)
        if argv[0] == "uvicorn":
            assert "--factory" in argv, name
            module, _, factory = argv[-1].partition(":")
            assert callable(getattr(importlib.import_module(module), factory)), name
            assert module == f"services.{name}.app", (name, module)
        elif argv[0] == "capaflow":
            from services import cli

            scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
            assert scripts["capaflow"] == "services.cli:main"
            parsed = cli.build_parser().parse_args(argv[1:])  # exits 2 on a wrong command
            assert (parsed.command, parsed.target) == ("migrate", "all"), name
        else:
            pytest.fail(f"{name} runs {argv}: neither uvicorn nor capaflow")
    # Built once from deploy/docker/Dockerfile; the others reuse the tag.
    for service in ours.values():
        if "build" in service:
            assert (ROOT / service["build"]["context"] / service["build"]["dockerfile"]).is_file()


@cache
def _fields(prefix: str) -> frozenset[str]:
    module, cls = SETTINGS[prefix]
    return frozenset(getattr(importlib.import_module(module), cls).model_fields)


def test_every_variable_is_a_setting_of_the_service_its_prefix_names() -> None:
    for name, service in _ours().items():
        variables = service.get("environment", {})
        assert isinstance(variables, dict), name
        for variable in variables:
            prefix = next((p for p in SETTINGS if variable.startswith(p)), None)
            assert prefix, (name, variable)
            assert variable.removeprefix(prefix).lower() in _fields(prefix), (name, variable)


def test_every_app_and_the_migration_get_their_database_and_bus() -> None:
    services = _compose()["services"]
    for name, prefix in APPS.items():
        variables = services[name]["environment"]
        # Without it the app would open a SQLite file inside the container.
        assert f"{prefix}DATABASE_URL" in variables, name
        if name != "web":
            assert variables[f"{prefix}BUS"] == "kafka", name
    migrating = services["migrate"]["environment"]
    assert {f"{p}DATABASE_URL" for p in APPS.values()} <= set(migrating)


def test_every_database_and_host_named_exists_in_the_compose_file() -> None:
    compose = _compose()
    services = compose["services"]
    created = set(re.findall(r"CREATE DATABASE (\w+);",
                             (ROOT / "deploy" / "docker" / "create-databases.sql").read_text()))
    created.add(services["postgres"]["environment"]["POSTGRES_DB"])
    for name, service in _ours().items():
        for variable, value in service.get("environment", {}).items():
            if variable.endswith("DATABASE_URL"):
                url = make_url(value)
                assert url.host in services and url.database in created, (name, variable)
            if variable.endswith("KAFKA_BOOTSTRAP_SERVERS") or (
                    variable.endswith("_URL") and value.startswith("http://")):
                host = re.sub(r"^https?://", "", value).split(":")[0]
                assert host in services, (name, variable, value)
            if variable.endswith("SMTP_HOST"):
                assert value in services, (name, variable)


def test_every_file_mounted_from_the_checkout_is_there() -> None:
    for name, service in _compose()["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./var/"):
                continue  # made by `capaflow credentials dev`, not in the repository
            assert (ROOT / source).exists(), (name, source)
