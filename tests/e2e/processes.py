"""Services as separate uvicorn processes on Kafka + PostgreSQL, each one
startable, killable (-9) and stoppable on its own: what the chaos and
scale-out tests need and `make run` (one script for all) cannot give."""

import secrets
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import ROOT
from tests.e2e.loop import poll

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
