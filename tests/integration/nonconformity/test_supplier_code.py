"""An NC names the supplier it came from: stored in the canonical form the CAPA
service's register uses, carried on the NC's events, refused when it cannot be
a code."""

import pytest

from tests.integration.nonconformity.conftest import NcService


async def test_the_code_is_stored_canonical_and_travels_on_events(nc: NcService) -> None:
    made = await nc.report(supplier_code=" ACME_Seals ", severity="critical")
    assert made.status_code == 201, made.text
    item = made.json()
    assert item["supplier_code"] == "acme-seals"
    [escalated] = await nc.events(item["id"], "capaflow.nonconformity.escalated.v1")
    assert escalated["data"]["supplier_code"] == "acme-seals"
    url = f"/v1/nonconformities/{item['id']}"
    moved = await nc.client.patch(url, json={"supplier_code": "Gasket.Works"},
                                  headers=nc.auth("engineer") | {"If-Match": '"1"'})
    assert moved.status_code == 200 and moved.json()["supplier_code"] == "gasket-works"
    cleared = await nc.client.patch(url, json={"supplier_code": None},
                                    headers=nc.auth("engineer") | {"If-Match": '"2"'})
    assert cleared.status_code == 200 and cleared.json()["supplier_code"] is None


@pytest.mark.parametrize("code", ["a", "acme/seals", "ac\u0441me", "x" * 33, "\u200b\u200b"])
async def test_what_cannot_be_a_code_is_a_422(nc: NcService, code: str) -> None:
    refused = await nc.report(supplier_code=code)
    assert refused.status_code == 422 and "supplier_code" in refused.text
