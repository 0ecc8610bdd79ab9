"""The UI's probes and metrics: /readyz follows the session database (what
deploy/k8s/web.yaml's readiness probe asks), /metrics counts the UI's requests
beside the services' (service="web")."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from services.web.app import create_app
from services.web.session import SESSION_COOKIE
from services.web.settings import WebSettings
from tests.unit.web.conftest import FakeApi

# Nothing listens on port 9: every connection is refused at once.
UNREACHABLE = "postgresql+asyncpg://web@127.0.0.1:9/web"
LATENCY = "capaflow_http_request_duration_seconds"


@pytest.fixture
def ui_without_store(key_store: Path, fake_api: FakeApi) -> Iterator[TestClient]:
    settings = WebSettings(credentials_file=str(key_store), database_url=UNREACHABLE)
    app = create_app(settings, transport=httpx.MockTransport(fake_api))
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as client:
        yield client


def _request_count(client: TestClient, route: str, status: str) -> float:
    """How many requests the UI's histogram has seen for ``route`` and ``status``."""
    answer = client.get("/metrics")
    assert answer.status_code == 200
    for family in text_string_to_metric_families(answer.text):
        if family.name != LATENCY:
            continue
        for sample in family.samples:
            if (sample.name == f"{LATENCY}_count" and sample.labels["service"] == "web"
                    and sample.labels["route"] == route
                    and sample.labels["status"] == status):
                return sample.value
    return 0.0


def test_readyz_is_200_while_the_session_store_answers(ui: TestClient) -> None:
    answer = ui.get("/readyz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ready", "checks": {"database": "ok"}}
    assert "retry-after" not in answer.headers


def test_readyz_is_503_with_retry_after_when_the_session_store_is_down(
        ui_without_store: TestClient) -> None:
    # A browser's cookie on the probe must not turn it into the HTML "try again" page.
    ui_without_store.cookies.set(SESSION_COOKIE, "some-session-id")
    answer = ui_without_store.get("/readyz")
    assert answer.status_code == 503
    assert int(answer.headers["retry-after"]) > 0
    body = answer.json()
    assert body["status"] == "not ready"
    assert body["checks"]["database"].startswith("unavailable: ")
    # The URL (and any password in it) stays out of the answer.
    assert "127.0.0.1" not in answer.text
    # Liveness stays up: an outage of the store is no reason to restart the pod.
    assert ui_without_store.get("/healthz").status_code == 200
    assert ui_without_store.get("/metrics").status_code == 200


def test_readyz_is_503_on_a_database_the_migrations_have_not_prepared(
        key_store: Path, fake_api: FakeApi, tmp_path: Path) -> None:
    settings = WebSettings(credentials_file=str(key_store),
                           database_url=f"sqlite+aiosqlite:///{tmp_path / 'empty.sqlite'}")
    app = create_app(settings, transport=httpx.MockTransport(fake_api))
    with TestClient(app, base_url="http://testserver") as client:
        answer = client.get("/readyz")
        assert answer.status_code == 503 and answer.headers["retry-after"]


def test_metrics_count_the_ui_requests_by_route_and_status(ui: TestClient) -> None:
    before = _request_count(ui, "/sign-in", "200")
    for _ in range(3):
        assert ui.get("/sign-in").status_code == 200
    assert _request_count(ui, "/sign-in", "200") == before + 3
    answer = ui.get("/metrics")
    assert answer.headers["content-type"].startswith("text/plain")
    # No id of a nonconformity or CAPA in a label: the route template only.
    template = "/nonconformities/{nc_id}"
    before = _request_count(ui, template, "303")
    assert ui.get("/nonconformities/NC-2026-0001").status_code == 303  # to sign-in
    assert _request_count(ui, template, "303") == before + 1
    assert "NC-2026-0001" not in ui.get("/metrics").text


def test_metrics_count_the_503s_of_an_unreachable_session_store(
        ui_without_store: TestClient) -> None:
    before = _request_count(ui_without_store, "unmatched", "503")
    ui_without_store.cookies.set(SESSION_COOKIE, "some-session-id")
    assert ui_without_store.get("/lessons").status_code == 503
    assert _request_count(ui_without_store, "unmatched", "503") == before + 1
