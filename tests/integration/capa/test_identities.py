"""Owner and verifier are compared as people, not as strings (issue 13.2)."""

import pytest

from tests.integration.capa.conftest import Capas


def _fullwidth(text: str) -> str:
    """The full-width look-alike of an ASCII name (NFKC folds it back)."""
    return "".join(chr(ord(c) + 0xFEE0) for c in text)


@pytest.mark.parametrize("owner", ["TEST-VERIFIER", "Test-Verifier ", _fullwidth("test-verifier")])
@pytest.mark.requirement("part11-11.100", "iso9001-10.2.1d")
async def test_the_owner_cannot_verify_under_another_spelling(capas: Capas, owner: str) -> None:
    capa = await capas.open(owner=owner)
    assert capa["owner"] == "test-verifier"  # stored canonical
    await capas.to_verifying(capa["id"])
    own = await capas.verify(capa["id"], role="verifier")
    assert own.status_code == 403, own.text
    assert (await capas.verify(capa["id"], role="manager")).status_code == 201


@pytest.mark.parametrize("hidden", ["\u200b", "\u2060", "\ufeff", "\u202e", "\x1b"])
@pytest.mark.requirement("part11-11.100")
async def test_invisible_characters_in_identities_are_422(capas: Capas, hidden: str) -> None:
    owner = f"test-{hidden}verifier"
    opened = await capas.client.post("/v1/capas", headers=capas.as_("engineer"),
                                     json={"title": "t", "severity": "minor", "owner": owner})
    assert opened.status_code == 422, opened.text
    assert any(e["field"] == "body.owner" for e in opened.json()["errors"])
    capa = await capas.open()
    edited = await capas.client.patch(f"/v1/capas/{capa['id']}", json={"owner": owner},
                                      headers=capas.as_("engineer", **{"If-Match": "*"}))
    assert edited.status_code == 422, edited.text
    action = await capas.client.post(
        f"/v1/capas/{capa['id']}/actions", headers=capas.as_("engineer"),
        json={"kind": "correction", "description": "d", "owner": owner,
              "due_date": "2026-12-31"})
    assert action.status_code == 422, action.text
    listed = await capas.client.get("/v1/capas", params={"owner": owner},
                                    headers=capas.as_("engineer"))
    assert listed.status_code == 422, listed.text


async def test_the_owner_filter_finds_every_spelling(capas: Capas) -> None:
    capa = await capas.open(owner="Quality.Lead")
    for spelling in ("quality.lead", "QUALITY.LEAD"):
        page = await capas.client.get("/v1/capas", params={"owner": spelling},
                                      headers=capas.as_("reporter"))
        assert [c["id"] for c in page.json()["items"]] == [capa["id"]]


@pytest.mark.requirement("iso9001-10.2.1d", "part11-11.10g")
async def test_handing_ownership_over_while_verifying_does_not_free_the_owner(
        capas: Capas) -> None:
    """A manager who owned the CAPA hands it to someone else, then verifies it himself."""
    capa = await capas.open(owner="test-manager")
    await capas.to_verifying(capa["id"])
    current = await capas.client.get(f"/v1/capas/{capa['id']}", headers=capas.as_("manager"))
    handed = await capas.client.patch(
        f"/v1/capas/{capa['id']}", json={"owner": "someone-else", "reason": "leave"},
        headers=capas.as_("manager", **{"If-Match": current.headers["etag"]}))
    assert handed.status_code == 200, handed.text
    own = await capas.verify(capa["id"], role="manager")
    assert own.status_code == 403, own.text
    assert "owned" in own.json()["detail"]
    assert (await capas.verify(capa["id"], role="verifier")).status_code == 201


async def test_an_owner_handed_over_before_implementation_may_verify(capas: Capas) -> None:
    capa = await capas.open(owner="test-verifier")
    current = await capas.client.get(f"/v1/capas/{capa['id']}", headers=capas.as_("engineer"))
    handed = await capas.client.patch(
        f"/v1/capas/{capa['id']}", json={"owner": "someone-else"},
        headers=capas.as_("engineer", **{"If-Match": current.headers["etag"]}))
    assert handed.status_code == 200, handed.text
    await capas.to_verifying(capa["id"])
    assert (await capas.verify(capa["id"], role="verifier")).status_code == 201
