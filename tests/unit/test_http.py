import httpx
from fastapi import FastAPI
from pydantic import BaseModel, Field

from shared.http.errors import Problem, install_problem_handlers


class Finding(BaseModel):
    clause: str = Field(pattern=r"^\d+(\.\d+)*$")
    evidence: str = Field(min_length=1)


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/findings")
    async def create(finding: Finding) -> dict[str, str]:
        if finding.clause == "0":
            raise Problem(409, "Clause 0 is already open", title="Conflict", allowed=["1"])
        return {"clause": finding.clause}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    return app


async def _client() -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def test_validation_errors_are_problem_json_with_fields() -> None:
    async with await _client() as client:
        response = await client.post("/findings", json={"clause": "eight", "evidence": ""})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 422 and body["instance"] == "/findings"
    assert {e["field"] for e in body["errors"]} == {"body.clause", "body.evidence"}


async def test_problem_raised_by_a_use_case_keeps_its_extensions() -> None:
    async with await _client() as client:
        response = await client.post("/findings", json={"clause": "0", "evidence": "photo"})
    assert response.status_code == 409
    assert response.json()["allowed"] == ["1"]


async def test_unknown_route_is_problem_json() -> None:
    async with await _client() as client:
        response = await client.get("/nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_unexpected_error_does_not_leak_internals() -> None:
    async with await _client() as client:
        response = await client.get("/boom")
    assert response.status_code == 500
    assert "secret internals" not in response.text
    assert response.headers["content-type"] == "application/problem+json"


def _guarded_app() -> FastAPI:
    from shared.http.limits import NulGuard

    app = _app()
    app.add_middleware(NulGuard)

    @app.get("/search")
    async def search(text: str) -> dict[str, str]:
        return {"text": text}

    return app


async def test_nul_characters_are_refused_before_they_reach_the_database() -> None:
    transport = httpx.ASGITransport(app=_guarded_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        body = await client.post("/findings", json={"clause": "8", "evidence": "a\u0000b"})
        query = await client.get("/search", params={"text": "a\x00b"})
        fine = await client.get("/search", params={"text": "ab"})
        ok = await client.post("/findings", json={"clause": "8", "evidence": "ab"})
    assert body.status_code == query.status_code == 422
    assert body.headers["content-type"] == "application/problem+json"
    assert "NUL" in body.json()["detail"]
    assert fine.status_code == 200 and ok.status_code == 200


def test_unreachable_database_is_told_apart_from_refused_data() -> None:
    from sqlalchemy.exc import IntegrityError, OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    from shared.db import is_unavailable

    assert is_unavailable(OperationalError("SELECT 1", None, Exception("server closed")))
    assert is_unavailable(PoolTimeout("pool exhausted"))
    assert is_unavailable(ConnectionRefusedError(111, "refused"))
    assert not is_unavailable(IntegrityError("INSERT", None, Exception("duplicate key")))
    assert not is_unavailable(ValueError("bad input"))


async def test_unreachable_database_is_a_503_with_retry_after() -> None:
    from sqlalchemy.exc import OperationalError

    app = _app()

    @app.get("/down")
    async def down() -> None:
        raise OperationalError("SELECT 1", None, ConnectionRefusedError("refused"))

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/down")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_deadlock_victim_is_a_503_not_a_500() -> None:
    from sqlalchemy.exc import DBAPIError

    from shared.db import is_aborted_by_conflict, is_unavailable

    class DeadlockDetected(Exception):
        sqlstate = "40P01"  # as asyncpg's DeadlockDetectedError carries it

    deadlock = DBAPIError("UPDATE nonconformities", None, DeadlockDetected("deadlock detected"))
    assert is_aborted_by_conflict(deadlock) and not is_unavailable(deadlock)
    assert not is_aborted_by_conflict(ValueError("bad input"))
    app = _app()

    @app.post("/alerts")
    async def alerts() -> None:
        raise deadlock

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/alerts")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"


async def test_method_not_allowed_lists_every_method_of_the_path() -> None:
    # Two routes share the path; Starlette alone would name only the first one's.
    app = _app()

    @app.get("/findings")
    async def list_findings() -> list[str]:
        return []

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://test") as client:
        response = await client.delete("/findings")
        unknown = await client.delete("/nowhere")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert response.headers["content-type"] == "application/problem+json"
    assert unknown.status_code == 404


async def test_a_service_app_lists_the_methods_of_its_included_routers(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The services include their routers, which FastAPI keeps as one entry each:
    the Allow header must still name what the path serves (an outside test found
    it empty on every service)."""
    from services.capa.app import create_app as capa_app
    from services.capa.settings import CapaSettings
    from services.notifications.app import create_app as notifications_app
    from services.notifications.settings import NotificationsSettings

    apps = {
        "/v1/capas": capa_app(CapaSettings(
            database_url=f"sqlite+aiosqlite:///{tmp_path}/capa.sqlite")),
        "/v1/subscriptions": notifications_app(NotificationsSettings(
            database_url=f"sqlite+aiosqlite:///{tmp_path}/notifications.sqlite")),
    }
    for path, app in apps.items():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://test") as client:
            response = await client.put(path)
        assert response.status_code == 405
        assert response.headers["allow"] == "GET, POST", path
