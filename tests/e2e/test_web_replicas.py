"""The web UI as two replicas (two uvicorn processes) on one PostgreSQL session
store, beside the services on Kafka + PostgreSQL: a person signed in on one is
served by the other, forms work across them, a shown-once secret is shown once
in all, and a sign-out on one ends the session on both."""

import html
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from services.web.session import SESSION_COOKIE
from tests.conftest import ROOT, require_postgres
from tests.e2e.loop import Receiver, _new_databases, loop_on_kafka, poll, webhook_receiver
from tests.e2e.test_run_services import _free_port
from tests.e2e.web_client import WebClient

SECRET = re.compile(r"whsec_[A-Za-z0-9+/=]+")


@contextmanager
def second_replica(ports: dict[str, int], var: Path, database_url: str) -> Iterator[str]:
    """Another UI process on the same services, key store and session database
    as the one deploy/run.sh started; yields its base URL."""
    port = _free_port()
    env = os.environ | {
        "WEB_NONCONFORMITY_URL": f"http://127.0.0.1:{ports['nonconformity']}",
        "WEB_CAPA_URL": f"http://127.0.0.1:{ports['capa']}",
        "WEB_NOTIFICATIONS_URL": f"http://127.0.0.1:{ports['notifications']}",
        "WEB_CREDENTIALS_FILE": str(var / "api-keys.json"),
        "WEB_DATABASE_URL": database_url}
    log = var / "web-b.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "services.web.app:create_app", "--factory",
             "--host", "127.0.0.1", "--port", str(port), "--no-access-log"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        poll(ready, timeout=60, message="second UI replica ready")
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _same_browser(a: WebClient, b: WebClient) -> None:
    # One browser, two replicas behind a load balancer: the same cookie reaches both.
    b.http.cookies.set(SESSION_COOKIE, a.http.cookies[SESSION_COOKIE])
    b.csrf = a.csrf


def test_two_ui_replicas_serve_one_signed_in_person(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    [web_db], drop = _new_databases(require_postgres(), 1)
    # deploy/run.sh migrates this database and starts replica A on it.
    monkeypatch.setenv("WEB_DATABASE_URL", web_db)
    try:
        with loop_on_kafka(tmp_path, web=True) as loop, webhook_receiver() as receiver, \
                second_replica(loop.ports, tmp_path / "var", web_db) as base_b:
            a = WebClient(f"http://127.0.0.1:{loop.ports['web']}")
            b = WebClient(base_b)
            try:
                _serve_one_person(a, b, loop.keys["manager"], receiver)
            finally:
                a.close()
                b.close()
    finally:
        drop()


def _serve_one_person(a: WebClient, b: WebClient, key: str, receiver: Receiver) -> None:
    a.sign_in(key, next_path="/subscriptions")
    _same_browser(a, b)

    # Signed in on A; B shows the same person, with the session's CSRF token.
    page = b.get("/subscriptions/new")
    assert page.status_code == 200, (page.status_code, page.headers.get("location"))
    assert "dev-manager" in page.text and f'content="{a.csrf}"' in page.text

    # A form with A's token is accepted by B; the flash it sets is shown by A.
    created = b.submit("/subscriptions", {
        "channel": "webhook", "target": receiver.url, "mode": "immediate", "active": "on",
        "event_types": "capaflow.notification.*", "idempotency_key": "e2e-replicas-1"})
    assert created.status_code == 303, created.text[:2000]
    sub_path = created.headers["location"]

    # The secret B was handed is shown once, by A, and by neither replica again.
    shown = a.get(sub_path)
    assert shown.status_code == 200 and "will not be shown again" in shown.text
    assert f"Subscription to {receiver.url} created." in html.unescape(shown.text)
    found = SECRET.search(html.unescape(shown.text))
    assert found, shown.text[:2000]
    for replica in (b, a):
        again = replica.get(sub_path)
        assert again.status_code == 200 and found.group(0) not in html.unescape(again.text)

    # A rotation on A is shown on B, once.
    assert a.submit(f"{sub_path}/rotate-secret", {"overlap_seconds": "0"}).status_code == 303
    rotated = SECRET.search(html.unescape(b.get(sub_path).text))
    assert rotated and rotated.group(0) != found.group(0)
    assert rotated.group(0) not in html.unescape(a.get(sub_path).text)

    # The test event sent through B is signed with the secret A showed after rotating.
    assert b.submit(f"{sub_path}/test", {}).status_code == 303
    poll(lambda: receiver.requests, message="test event at the receiver")
    got = receiver.requests[0]
    assert Webhook(rotated.group(0)).verify(got.body, got.headers)["type"] == \
        "capaflow.notification.test.v1"

    # Signing out on B ends the session on A too.
    assert b.submit("/sign-out", {}).status_code == 303
    after = a.get("/subscriptions")
    assert after.status_code == 303
    assert after.headers["location"] == "/sign-in?next=%2Fsubscriptions"
