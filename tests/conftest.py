"""Fixtures for the real infrastructure the tests run against.

`make test` starts Kafka and PostgreSQL and exports CAPAFLOW_TEST_KAFKA_BOOTSTRAP
and CAPAFLOW_TEST_POSTGRES_URL. Without them a test needing one is skipped
locally, and fails under CI=true: CI must never pass by skipping.
"""

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from shared.compliance.requirements import unknown as unknown_requirements
from shared.migrations import upgrade

if TYPE_CHECKING:
    import httpx
    from fastapi import FastAPI
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

ROOT = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A requirement marker naming an unknown id fails the run, before any test runs.

    docs/compliance.md is built from these markers; a misspelt id would drop the test from
    the matrix without anyone noticing. The matrix generator refuses it too.
    """
    wrong: list[str] = []
    for item in items:
        for mark in item.iter_markers("requirement"):
            if mark.kwargs or not mark.args or not all(isinstance(a, str) for a in mark.args):
                wrong.append(f"{item.nodeid}: requirement() takes requirement ids only")
            wrong += [f"{item.nodeid}: unknown requirement id {bad!r}"
                      for bad in unknown_requirements(str(a) for a in mark.args)]
    if wrong:
        raise pytest.UsageError("\n".join(
            ["requirement markers (shared/compliance/requirements.py lists the ids):", *wrong]))


def unavailable(message: str) -> None:
    """Something a test needs is missing: under CI=true a failure, else a skip."""
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _missing(what: str) -> None:
    unavailable(f"{what} is not available (run the tests with `make test`)")


def require_kafka() -> str:
    bootstrap = os.environ.get("CAPAFLOW_TEST_KAFKA_BOOTSTRAP")
    if not bootstrap:
        _missing("Kafka (CAPAFLOW_TEST_KAFKA_BOOTSTRAP)")
    assert bootstrap
    return bootstrap


def require_postgres() -> str:
    url = os.environ.get("CAPAFLOW_TEST_POSTGRES_URL")
    if not url:
        _missing("PostgreSQL (CAPAFLOW_TEST_POSTGRES_URL)")
    assert url
    return url


@pytest.fixture(scope="session")
def s3_server() -> dict[str, str]:
    """The S3-compatible store `make test` starts (deploy/s3/s3.sh, SeaweedFS): its
    endpoint, region and credentials, as the evidence settings name them."""
    names = {"endpoint": "CAPAFLOW_TEST_S3_ENDPOINT", "region": "CAPAFLOW_TEST_S3_REGION",
             "access_key_id": "CAPAFLOW_TEST_S3_ACCESS_KEY_ID",
             "secret_access_key": "CAPAFLOW_TEST_S3_SECRET_ACCESS_KEY"}
    found = {key: os.environ.get(name, "") for key, name in names.items()}
    if not all(found.values()):
        _missing("An S3-compatible store (CAPAFLOW_TEST_S3_ENDPOINT and its credentials)")
    return found


@pytest.fixture
def new_s3_bucket(s3_server: dict[str, str]) -> Callable[[], dict[str, str]]:
    """Creates empty buckets (random names) on the test store; each call answers the
    ``evidence_*`` settings of a service keeping its evidence there."""
    import boto3  # type: ignore[import-untyped]
    from botocore.exceptions import BotoCoreError  # type: ignore[import-untyped]

    def create() -> dict[str, str]:
        bucket = f"t-{uuid.uuid4().hex[:20]}"
        client = boto3.session.Session(
            aws_access_key_id=s3_server["access_key_id"],
            aws_secret_access_key=s3_server["secret_access_key"],
            region_name=s3_server["region"]).client("s3", endpoint_url=s3_server["endpoint"])
        try:
            client.create_bucket(Bucket=bucket)
        except BotoCoreError as exc:
            _missing(f"The S3-compatible store at {s3_server['endpoint']} ({exc})")
        finally:
            client.close()
        return {"evidence_store": "s3", "evidence_s3_endpoint": s3_server["endpoint"],
                "evidence_s3_bucket": bucket, "evidence_s3_region": s3_server["region"],
                "evidence_s3_access_key_id": s3_server["access_key_id"],
                "evidence_s3_secret_access_key": s3_server["secret_access_key"]}

    return create


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    return require_kafka()


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


DatabaseFactory = Callable[[], Awaitable[str]]


@pytest.fixture
async def new_postgres_database() -> AsyncIterator[DatabaseFactory]:
    """Creates throwaway databases (random names, so tests never share data).

    Lazy: a test that never calls it does not need PostgreSQL.
    """
    created: list[str] = []
    admin_url: str | None = None

    async def create() -> str:
        nonlocal admin_url
        admin_url = require_postgres()
        name = f"t_{uuid.uuid4().hex[:16]}"
        try:
            conn = await asyncpg.connect(_asyncpg_dsn(admin_url), timeout=10)
        except (OSError, asyncpg.PostgresError) as exc:
            _missing(f"PostgreSQL at {admin_url} ({exc})")
            raise
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        created.append(name)
        return make_url(admin_url).set(database=name).render_as_string(hide_password=False)

    yield create
    if created and admin_url:
        conn = await asyncpg.connect(_asyncpg_dsn(admin_url), timeout=10)
        try:
            for name in created:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


@pytest.fixture
def new_sqlite_database(tmp_path: Path) -> DatabaseFactory:
    async def create() -> str:
        return f"sqlite+aiosqlite:///{tmp_path / uuid.uuid4().hex[:8]}.sqlite"

    return create


async def migrate(script_location: Path, url: str) -> None:
    # Alembic's env runs its own event loop, so it goes to a worker thread.
    await asyncio.to_thread(upgrade, script_location, url)


SERVICE_MIGRATIONS = ROOT / "services" / "capa" / "migrations"
BUS_MIGRATIONS = ROOT / "shared" / "bus" / "migrations"


async def eventually(check: Callable[[], Awaitable[bool]], *, timeout: float = 30.0,
                     interval: float = 0.1, message: str = "condition") -> None:
    """Poll ``check`` until it is true; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        if await check():
            return
        if loop.time() > deadline:
            raise AssertionError(f"{message} not reached within {timeout} s")
        await asyncio.sleep(interval)


ROLES = ("reporter", "engineer", "verifier", "manager", "admin")


@pytest.fixture
def api_keys(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A key store with one key per role (and per monitoring source): (file, {role: key})."""
    from shared.auth import hash_key, source_role

    tokens = {role: f"test-{role}-{uuid.uuid4().hex}" for role in ROLES}
    sources = {f"source:{s}": f"test-{s}-{uuid.uuid4().hex}" for s in ("alertmanager", "grafana")}
    entries = [{"sha256": hash_key(t), "subject": f"test-{r}", "roles": [r]}
               for r, t in tokens.items()]
    entries += [{"sha256": hash_key(t), "subject": r.split(":", 1)[1],
                 "roles": [source_role(r.split(":", 1)[1])]} for r, t in sources.items()]
    path = tmp_path / "api-keys.json"
    path.write_text(json.dumps({"keys": entries}))
    return path, tokens | sources


@asynccontextmanager
async def running(app: "FastAPI") -> AsyncIterator["httpx.AsyncClient"]:
    """An app with its lifespan (runtime, relay, consumers) and an HTTP client on it."""
    import httpx

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


@pytest.fixture
def spans() -> Iterator["InMemorySpanExporter"]:
    """Tracing installed with an in-memory exporter for the test, uninstalled after."""
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from shared import tracing

    exporter = InMemorySpanExporter()
    tracing.install(service="test", exporter=exporter)
    try:
        yield exporter
    finally:
        tracing.uninstall()
