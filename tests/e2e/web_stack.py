"""One `make run` stack (deploy/run.sh: SQLite + sql bus, the UI in front) shared
by every web e2e file that needs the default settings and nothing else.

Starting the stack (migrations and four uvicorn processes) costs 15-25 s; the web
files used to pay it once each. They now share one per session (the
``default_web_stack`` fixture in tests/e2e/conftest.py), so each test scopes
itself to the records it made (its own markers, ids and titles) instead of
assuming the databases hold nothing else. Files that need their own settings
(an owner policy, SMTP, replicas, OIDC, signing, Kafka) keep their own stacks.
"""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.e2e.loop import Loop
from tests.e2e.test_run_services import services_running
from tests.e2e.web_client import WebClient


class Ui:
    """The running services and UI, with sign-in helpers for each role."""

    def __init__(self, ports: dict[str, int], keys: dict[str, str]) -> None:
        self.api = Loop(ports=ports, keys=keys, source_tokens={})
        self.base = f"http://127.0.0.1:{ports['web']}"
        self.keys = keys
        self._clients: list[WebClient] = []

    def person(self, role: str) -> WebClient:
        client = WebClient(self.base)
        client.sign_in(self.keys[role])
        self._clients.append(client)
        return client

    def close(self) -> None:
        for client in self._clients:
            client.close()
        self._clients.clear()


@contextmanager
def running_ui(env: dict[str, str], tmp: Path) -> Iterator[Ui]:
    """deploy/run.sh with ``env`` (web=True) and the dev credentials it made."""
    with services_running(env, tmp, web=True) as ports:
        creds = json.loads((tmp / "var" / "dev-credentials.json").read_text())
        running = Ui(ports, creds["api_keys"])
        try:
            yield running
        finally:
            running.close()


def shared_ui(stack: Ui) -> Iterator[Ui]:
    """A module's own view of the shared stack: its own signed-in clients, closed
    when the module ends (the stack runs on)."""
    running = Ui(stack.api.ports, stack.keys)
    try:
        yield running
    finally:
        running.close()

