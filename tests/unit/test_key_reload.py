"""Keys added or revoked in the store take effect without a restart (issue 13.1)."""

import json
from pathlib import Path
from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Depends

from shared.auth import KeyFile, Principal
from shared.credentials import add_key, main, revoke
from shared.http.app import service_app
from shared.http.auth import authenticate
from shared.settings import ServiceSettings


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.requirement("part11-11.10d")
def test_an_added_key_works_at_once(tmp_path: Path) -> None:
    store = tmp_path / "api-keys.json"
    clock = Clock()
    keys = KeyFile(store, interval=1.0, clock=clock)
    token = add_key(store, "Alice", ["engineer"])
    # A key the store does not know sends it to the file at once, not after the
    # interval: someone signing in to the UI right after being added gets in.
    clock.now = 0.1
    principal = keys.authenticate(token)
    assert principal is not None
    assert principal.subject == "alice"  # stored canonical
    assert principal.roles == {"engineer"}
    # A known key does not touch the file within the interval.
    store.unlink()
    clock.now = 0.5
    assert keys.authenticate(token) is not None
    clock.now = 1.1
    assert keys.authenticate(token) is None


@pytest.mark.requirement("part11-11.10d")
def test_a_revoked_key_stops_working(tmp_path: Path) -> None:
    store = tmp_path / "api-keys.json"
    kept = add_key(store, "bob", ["verifier"])
    gone = add_key(store, "carol", ["manager"])
    clock = Clock()
    keys = KeyFile(store, interval=1.0, clock=clock)
    assert keys.authenticate(gone) is not None
    assert revoke(store, subject="CAROL") == 1
    clock.now = 1.5
    assert keys.authenticate(gone) is None
    assert keys.authenticate(kept) is not None


def test_revoke_one_key_by_its_value(tmp_path: Path) -> None:
    store = tmp_path / "api-keys.json"
    old = add_key(store, "dana", ["engineer"])
    new = add_key(store, "dana", ["engineer"])
    assert revoke(store, token=old) == 1
    keys = KeyFile(store)
    assert keys.authenticate(old) is None
    assert keys.authenticate(new) is not None


def test_an_unreadable_store_keeps_the_last_good_keys(tmp_path: Path) -> None:
    store = tmp_path / "api-keys.json"
    token = add_key(store, "erin", ["reporter"])
    clock = Clock()
    keys = KeyFile(store, interval=1.0, clock=clock)
    store.write_text('{"keys": [')  # an editor saving half a file
    clock.now = 2.0
    assert keys.authenticate(token) is not None


def test_a_deleted_store_refuses_every_key(tmp_path: Path) -> None:
    store = tmp_path / "api-keys.json"
    token = add_key(store, "frank", ["reporter"])
    clock = Clock()
    keys = KeyFile(store, interval=1.0, clock=clock)
    store.unlink()
    clock.now = 2.0
    assert keys.authenticate(token) is None


@pytest.mark.parametrize("roles", [["manger"], ["source:"], []])
@pytest.mark.requirement("part11-11.10g")
def test_add_refuses_unknown_roles(tmp_path: Path, roles: list[str]) -> None:
    with pytest.raises(ValueError):
        add_key(tmp_path / "k.json", "gina", roles)


@pytest.mark.requirement("part11-11.100")
def test_add_refuses_an_invisible_character_in_the_subject(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="U\\+200B"):
        add_key(tmp_path / "k.json", "dev-verifier\u200b", ["engineer"])


def test_cli_add_and_revoke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "api-keys.json"
    monkeypatch.setenv("CAPAFLOW_CREDENTIALS_FILE", str(store))
    assert main(["add", "Hank", "manager"]) == 0
    token = capsys.readouterr().out.strip()
    assert KeyFile(store).authenticate(token) == Principal("hank", frozenset({"manager"}))
    assert main(["add", "ivan", "chief"]) == 2
    assert main(["revoke", "hank"]) == 0
    assert json.loads(store.read_text())["keys"] == []
    assert main(["revoke", "hank"]) == 1


async def test_a_running_service_follows_the_store(tmp_path: Path) -> None:
    """Through the app every service is built on: add -> 200, revoke -> 401, no restart."""
    store = tmp_path / "api-keys.json"
    first = add_key(store, "jo", ["reporter"])
    router = APIRouter()

    @router.get("/whoami")
    async def whoami(principal: Annotated[Principal, Depends(authenticate)]
                     ) -> dict[str, str]:
        return {"subject": principal.subject}

    app = service_app(service="keys-test", title="t", routers=[router],
                      settings=ServiceSettings(credentials_file=str(store), log_json=False))
    clock = Clock()
    app.state.keys = KeyFile(store, interval=1.0, clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        async def status(token: str) -> int:
            r = await client.get("/whoami", headers={"Authorization": f"Bearer {token}"})
            return r.status_code

        assert await status(first) == 200
        second = add_key(store, "kim", ["engineer"])
        clock.now += 1.0
        assert await status(second) == 200
        revoke(store, subject="jo")
        clock.now += 1.0
        assert await status(first) == 401
        assert await status(second) == 200


def test_dev_provisioning_makes_one_audit_key_and_keeps_it(tmp_path: Path) -> None:
    from shared.credentials import provision_dev

    provision_dev(tmp_path / "api-keys.json", tmp_path / "dev-credentials.json")
    key_file = tmp_path / "capa-audit.key"
    key = key_file.read_text().strip()
    assert len(key) >= 32 and key_file.stat().st_mode & 0o077 == 0
    provision_dev(tmp_path / "api-keys.json", tmp_path / "dev-credentials.json")
    assert key_file.read_text().strip() == key
