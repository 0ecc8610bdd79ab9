"""`make run`'s script brings up the three services as real processes whose
/readyz answers 200, on the embedded default and on Kafka + PostgreSQL, and
Ctrl-C stops all three."""

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, DatabaseFactory, require_kafka

SERVICES = ("nonconformity", "capa", "notifications")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(ports: dict[str, int], process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    pending = dict(ports)
    while pending:
        assert process.poll() is None, f"run.sh exited early:\n{log.read_text()[-3000:]}"
        for svc, port in list(pending.items()):
            probe = "/healthz" if svc == "web" else "/readyz"
            try:
                if httpx.get(f"http://127.0.0.1:{port}{probe}", timeout=2).status_code == 200:
                    del pending[svc]
            except httpx.HTTPError:
                pass
        if time.monotonic() > deadline:
            raise AssertionError(f"not ready: {pending}\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


@contextmanager
def services_running(env_overrides: dict[str, str], tmp_path: Path,
                     web: bool = False) -> Iterator[dict[str, int]]:
    """deploy/run.sh (what `make run` runs) with free ports; yields {service: port}
    (plus "web", the UI, when asked for). Leaving the block sends Ctrl-C to the
    process group and checks all stopped."""
    ports = {svc: _free_port() for svc in SERVICES}
    web_port = _free_port()
    env = os.environ | env_overrides | {"CAPAFLOW_VAR": str(tmp_path / "var"),
                                        "WEB_PORT": str(web_port)}
    env |= {f"{svc.upper()}_PORT": str(port) for svc, port in ports.items()}
    if web:
        ports["web"] = web_port
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        process = subprocess.Popen([str(ROOT / "deploy" / "run.sh")], cwd=ROOT, env=env,
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_ready(ports, process, log)
        yield ports
        # Ctrl-C in the terminal reaches the whole foreground process group.
        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(timeout=45) is not None
        for port in ports.values():
            with pytest.raises(httpx.ConnectError):
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _run_and_interrupt(env_overrides: dict[str, str], tmp_path: Path) -> None:
    with services_running(env_overrides, tmp_path, web=True) as ports:
        web = ports.pop("web")
        # The UI answers, asks for sign-in, and is stopped by Ctrl-C with the rest.
        page = httpx.get(f"http://127.0.0.1:{web}/sign-in")
        assert page.status_code == 200 and 'name="api_key"' in page.text
        ports["web"] = web
        for svc, port in ports.items():
            if svc == "web":
                continue
            body = httpx.get(f"http://127.0.0.1:{port}/readyz").json()
            assert body["checks"] == {"database": "ok", "bus": "ok"}, svc
            assert httpx.get(f"http://127.0.0.1:{port}/openapi.json").status_code == 200


def test_make_run_on_the_embedded_default(tmp_path: Path) -> None:
    _run_and_interrupt({"BUS": "sql"}, tmp_path)
    for name in (*SERVICES, "events"):
        assert (tmp_path / "var" / f"{name}.sqlite").is_file()


async def test_make_run_on_kafka_and_postgres(tmp_path: Path,
                                              new_postgres_database: DatabaseFactory) -> None:
    bootstrap = require_kafka()
    env = {"BUS": "kafka", "KAFKA_PORT": bootstrap.rsplit(":", 1)[1]}
    for svc in SERVICES:
        env[f"{svc.upper()}_DATABASE_URL"] = await new_postgres_database()
    _run_and_interrupt(env, tmp_path)
