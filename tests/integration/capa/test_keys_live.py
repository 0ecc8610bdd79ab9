"""A key added to the store works, and a revoked one stops, without a restart
(issue 13.1): the running CAPA service re-reads the store on its own."""

import pytest

from shared.credentials import add_key, revoke
from tests.conftest import eventually
from tests.integration.capa.conftest import Capas, auth


@pytest.mark.requirement("part11-11.10d")
async def test_added_key_authenticates_and_revoked_key_is_refused(capas: Capas) -> None:
    store = capas.app.state.keys.path
    token = add_key(store, "new-engineer", ["engineer"])

    async def status() -> int:
        return (await capas.client.get("/v1/capas", headers=auth(token))).status_code

    async def accepted() -> bool:
        return await status() == 200

    async def refused() -> bool:
        return await status() == 401

    await eventually(accepted, timeout=10, message="the added key authenticating")
    assert revoke(store, subject="new-engineer") == 1
    await eventually(refused, timeout=10, message="the revoked key answering 401")
    # The keys that were there all along still work.
    assert (await capas.client.get("/v1/capas", headers=capas.as_("verifier"))).status_code == 200
