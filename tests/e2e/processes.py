"""Services as separate uvicorn processes on Kafka + PostgreSQL, each one
startable, killable (-9) and stoppable on its own: what the chaos and
scale-out tests need and `make run` (one script for all) cannot give."""

import os
import secrets
import signal
import subprocess
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from shared.credentials import provision_dev
from tests.conftest import ROOT, require_kafka, require_postgres
from tests.e2e.loop import _new_databases, poll
from tests.e2e.test_run_services import SERVICES, _free_port

PYTHON = str(ROOT / ".venv" / "bin" / "python")


@dataclass
class ServiceProcess:
    name: str
    port: int
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        out = self.log.open("ab")
        self.process = subprocess.Popen(
            [PYTHON, "-m", "uvicorn", f"services.{self.name}.app:create_app", "--factory",
             "--host", "127.0.0.1", "--port", str(self.port), "--no-access-log"],
            cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        poll(self._alive, timeout=60, message=f"{self.name} answering")

    def read(self, path: str, key: str, **params: object) -> dict:
        """GET ``path`` with ``key``; the JSON body of a 200."""
        r = httpx.get(f"http://127.0.0.1:{self.port}{path}", params=params,
                      headers={"Authorization": f"Bearer {key}"}, timeout=30)
        assert r.status_code == 200, r.text
        return dict(r.json())

    def _alive(self) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).is_success
        except httpx.HTTPError:
            return False

    def kill9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill9()


def kafka_env(service: str, *, database_url: str, bootstrap: str, namespace: str,
              credentials: Path, audit_key: str) -> dict[str, str]:
    """One service's settings on Kafka + PostgreSQL (plus the loopback allow-list
    the test receivers need)."""
    prefix = service.upper()
    return {
        f"{prefix}_DATABASE_URL": database_url, f"{prefix}_BUS": "kafka",
        f"{prefix}_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        f"{prefix}_KAFKA_NAMESPACE": namespace,
        f"{prefix}_CREDENTIALS_FILE": str(credentials),
        f"{prefix}_LOG_LEVEL": "WARNING",
        "CAPA_AUDIT_KEY": audit_key,
        "NOTIFICATIONS_ALLOWED_NETWORKS": '["127.0.0.0/8"]'}


def new_audit_key() -> str:
    return secrets.token_urlsafe(32)


def migrate(service: str, env: dict[str, str]) -> None:
    subprocess.run([PYTHON, "-m", f"services.{service}.migrate"], cwd=ROOT, env=env,
                   check=True, capture_output=True, timeout=120)


@contextmanager
def one_of_each(tmp_path: Path, label: str, *, extra_env: dict[str, str] | None = None,
                before_cleanup: Callable[[], None] | None = None,
                ) -> Iterator[tuple[dict[str, ServiceProcess], dict[str, Any], str]]:
    """The three services, one process each, on Kafka + PostgreSQL: fresh databases,
    topics and groups (``<label>-<id>.``), dev credentials, migrated and started.
    Yields the processes, the dev credentials and the namespace; stops them and
    drops the databases afterwards (``before_cleanup`` first, e.g. to bring back
    infrastructure a fault test stopped)."""
    bootstrap = require_kafka()
    urls, drop = _new_databases(require_postgres(), len(SERVICES))
    namespace = f"{label}-{uuid.uuid4().hex[:8]}."
    # Service logs outlive pytest's temporary folders: a failure here is read afterwards.
    logs = ROOT / "var" / "test-logs" / namespace.rstrip(".")
    logs.mkdir(parents=True, exist_ok=True)
    creds = provision_dev(tmp_path / "api-keys.json", tmp_path / "dev-credentials.json")
    processes: dict[str, ServiceProcess] = {}
    try:
        audit_key = new_audit_key()
        for svc, url in zip(SERVICES, urls, strict=True):
            env = os.environ | kafka_env(
                svc, database_url=url, bootstrap=bootstrap, namespace=namespace,
                credentials=tmp_path / "api-keys.json", audit_key=audit_key)
            migrate(svc, env)
            env |= extra_env or {}
            processes[svc] = ServiceProcess(svc, _free_port(), env, logs / f"{svc}.log")
            processes[svc].start()
        yield processes, creds, namespace
    finally:
        for process in processes.values():
            process.stop()
        if before_cleanup is not None:
            before_cleanup()
        drop()
