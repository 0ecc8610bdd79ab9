"""Processes, ports, throwaway databases and API keys for one bench run."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def vm_hwm_kib(pid: int) -> int | None:
    """Peak resident set size (VmHWM) of a live process, in KiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time a live process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    port: int | None
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, chars: int = 2000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


@dataclass
class Processes:
    log_dir: Path
    procs: list[Proc] = field(default_factory=list)

    def start(self, name: str, args: list[str], *, env: dict[str, str] | None = None,
              port: int | None = None) -> Proc:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{name}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(args, cwd=ROOT, env=os.environ | (env or {}),
                                     stdout=out, stderr=subprocess.STDOUT)
        proc = Proc(name, popen, port, log)
        self.procs.append(proc)
        return proc

    def uvicorn(self, name: str, factory: str, *, env: dict[str, str] | None = None) -> Proc:
        port = free_port()
        return self.start(name, [PYTHON, "-m", "uvicorn", factory, "--factory",
                                 "--host", "127.0.0.1", "--port", str(port),
                                 "--no-access-log", "--log-level", "warning"],
                          env=env, port=port)

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()


def wait_http(proc: Proc, path: str = "/healthz", timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited early:\n{proc.tail()}")
        try:
            r = httpx.get(proc.url + path, timeout=5)
            if r.status_code == 200:
                return
            last = f"{r.status_code} {r.text[:200]}"
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.25)
    raise RuntimeError(f"{proc.name} not ready at {path} after {timeout:.0f} s ({last}):\n"
                       f"{proc.tail()}")


def migrate(service: str, url: str, log_dir: Path) -> None:
    prefix = service.upper()
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / f"migrate-{service}.log").open("wb") as out:
        rc = subprocess.call([PYTHON, "-m", f"services.{service}.migrate"], cwd=ROOT,
                             env=os.environ | {f"{prefix}_DATABASE_URL": url},
                             stdout=out, stderr=subprocess.STDOUT)
    if rc != 0:
        raise RuntimeError(f"migrating {service} failed; see {log_dir}/migrate-{service}.log")


class Databases:
    """Throwaway PostgreSQL databases with random names, dropped at the end."""

    def __init__(self, admin_dsn: str, prefix: str) -> None:
        self.admin_dsn = admin_dsn
        self.prefix = prefix
        self.created: list[str] = []

    def _dsn(self, name: str) -> str:
        return self.admin_dsn.rsplit("/", 1)[0] + "/" + name

    async def create(self, label: str) -> tuple[str, str]:
        """Returns (SQLAlchemy URL, asyncpg DSN)."""
        name = f"{self.prefix}_{label}_{uuid.uuid4().hex[:6]}"
        conn = await asyncpg.connect(self.admin_dsn, timeout=10)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        self.created.append(name)
        dsn = self._dsn(name)
        return dsn.replace("postgresql://", "postgresql+asyncpg://", 1), dsn

    async def drop_all(self) -> None:
        if not self.created:
            return
        conn = await asyncpg.connect(self.admin_dsn, timeout=10)
        try:
            for name in self.created:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()
        self.created.clear()


def write_keys(path: Path) -> dict[str, str]:
    """A key store in shared.auth's format: one key per role plus the alertmanager token."""
    from shared.auth import hash_key, source_role

    tokens = {role: f"bench-{role}-{uuid.uuid4().hex}"
              for role in ("reporter", "engineer", "manager", "admin")}
    tokens["alertmanager"] = f"bench-am-{uuid.uuid4().hex}"
    entries = [{"sha256": hash_key(t), "subject": f"bench-{r}", "roles": [r]}
               for r, t in tokens.items() if r != "alertmanager"]
    entries.append({"sha256": hash_key(tokens["alertmanager"]), "subject": "alertmanager",
                    "roles": [source_role("alertmanager")]})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"keys": entries}))
    return tokens
