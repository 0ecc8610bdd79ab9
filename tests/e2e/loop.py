"""The three services as real processes on Kafka + PostgreSQL (what
`make run BUS=kafka` runs), a signed-webhook receiver, and HTTP helpers."""

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from tests.conftest import require_kafka, require_postgres
from tests.e2e.test_run_services import SERVICES, services_running


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1 recording every POST."""

    port: int
    requests: list[Received] = field(default_factory=list)
    status: int = 200

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


@contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    receiver = Receiver(port=0)

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            body = self.rfile.read(length)
            if len(body) < length:
                # The sender died mid-request (the chaos test kill -9s it): nothing was
                # delivered, and its retry will send the whole body again.
                self.close_connection = True
                return
            receiver.requests.append(Received({k.lower(): v for k, v in self.headers.items()},
                                              body))
            self.send_response(receiver.status)
            self.end_headers()

    with quiet_server(Handler) as port:
        receiver.port = port
        yield receiver


class QuietHandler(BaseHTTPRequestHandler):
    """A test server's handler that keeps its request log out of the test output."""

    def log_message(self, *args: Any) -> None:
        return None


@contextmanager
def quiet_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[int]:
    """``handler`` served on a free loopback port (yielded) in a thread, for the block."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Loop:
    ports: dict[str, int]
    keys: dict[str, str]
    source_tokens: dict[str, str]

    def url(self, service: str, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}{path}"

    def call(self, method: str, service: str, path: str, role: str = "manager",
             expect: int | tuple[int, ...] = (200, 201, 202), **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.keys[role]}"} | kwargs.pop("headers", {})
        response = httpx.request(method, self.url(service, path), headers=headers, timeout=30,
                                 **kwargs)
        wanted = (expect,) if isinstance(expect, int) else expect
        assert response.status_code in wanted, (method, path, response.status_code,
                                                 response.text[:500])
        return response


def poll(check: Callable[[], Any], *, timeout: float = 60, message: str = "condition") -> Any:
    """Call ``check`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"{message} not reached within {timeout} s"
        time.sleep(0.25)


def _new_databases(admin_url: str, count: int) -> tuple[list[str], Callable[[], None]]:
    url = make_url(admin_url)
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    names = [f"e2e_{time.time_ns() % 10**12}_{i}" for i in range(count)]

    async def run(statement: str) -> None:
        conn = await asyncpg.connect(dsn)
        try:
            for name in names:
                await conn.execute(statement.format(name=name))
        finally:
            await conn.close()

    asyncio.run(run('CREATE DATABASE "{name}"'))
    urls = [url.set(database=n).render_as_string(hide_password=False) for n in names]
    return urls, lambda: asyncio.run(run('DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def loop_on_kafka(tmp_path: Path, web: bool = False) -> Iterator[Loop]:
    bootstrap = require_kafka()
    urls, drop = _new_databases(require_postgres(), len(SERVICES))
    namespace = f"e2e-{time.time_ns() % 10**12}."
    env = {"BUS": "kafka", "KAFKA_PORT": bootstrap.rsplit(":", 1)[1],
           # Fresh topics and groups: this run sees only its own events.
           **{f"{svc.upper()}_KAFKA_NAMESPACE": namespace for svc in SERVICES},
           "NOTIFICATIONS_ALLOWED_NETWORKS": '["127.0.0.0/8"]',
           # Short retry schedule so a refused delivery is retried within the test.
           "NOTIFICATIONS_RETRY_SCHEDULE": "[1, 2, 4, 8]"}
    env |= {f"{svc.upper()}_DATABASE_URL": u for svc, u in zip(SERVICES, urls, strict=True)}
    try:
        with services_running(env, tmp_path, web=web) as ports:
            creds = json.loads((tmp_path / "var" / "dev-credentials.json").read_text())
            yield Loop(ports=ports, keys=creds["api_keys"], source_tokens=creds["source_tokens"])
    finally:
        drop()
