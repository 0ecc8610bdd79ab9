"""A supplier's contacts in one canonical form (issue 15): an address typed with
capitals, spaces around it or full-width letters is the same contact, stored once;
a second contact with it is a 422 naming the field; "send to" finds it however the
engineer types it."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import DatabaseFactory
from tests.integration.capa.scar_harness import MailBox, ScarDesk, mailbox, scar_desk

__all__ = ["mailbox"]  # the fixture, imported so pytest finds it here

# "Jana@acme.example" typed on a full-width keyboard (NFKC folds it to ASCII).
FULL_WIDTH = "".join(chr(ord(c) + 0xFEE0) for c in "Jana@acme.example")


@pytest.fixture(params=["sqlite", "postgres"])
async def desk(request: pytest.FixtureRequest, new_sqlite_database: DatabaseFactory,
               new_postgres_database: DatabaseFactory, api_keys: tuple[Path, dict[str, str]],
               mailbox: tuple[MailBox, int]) -> AsyncIterator[ScarDesk]:
    keys_path, keys = api_keys
    url = await (new_postgres_database if request.param == "postgres"
                 else new_sqlite_database)()
    box, port = mailbox
    async with scar_desk(url, await new_sqlite_database(), keys_path, keys, port, box) as desk:
        yield desk


def _contacts(*emails: str) -> list[dict[str, str]]:
    return [{"name": f"Contact {i}", "email": e} for i, e in enumerate(emails)]


async def test_an_address_is_stored_in_one_form(desk: ScarDesk) -> None:
    assert FULL_WIDTH[0] == "\uff2a"
    made = await desk.supplier(contacts=_contacts(" Jana@ACME.Example "))
    assert made["contacts"][0]["email"] == "jana@acme.example"
    other = await desk.supplier(code="bolts", contacts=_contacts(FULL_WIDTH))
    assert other["contacts"][0]["email"] == "jana@acme.example"


@pytest.mark.parametrize("twin", ["JANA@acme.example", " jana@acme.example", FULL_WIDTH])
async def test_a_contact_listed_twice_is_a_422_naming_the_field(desk: ScarDesk,
                                                                twin: str) -> None:
    body = {"code": "acme", "name": "Acme", "criticality": "low",
            "contacts": _contacts("jana@acme.example", "piet@acme.example", twin)}
    refused = await desk.client.post("/v1/suppliers", json=body, headers=desk.as_("manager"))
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["type"] == "urn:capaflow:problem:duplicate-contact"
    assert [e["field"] for e in problem["errors"]] == ["contacts.2.email"]
    assert (await desk.client.get("/v1/suppliers/acme",
                                  headers=desk.as_("reporter"))).status_code == 404

    made = await desk.supplier(code="acme")
    edit = await desk.client.patch("/v1/suppliers/acme", json={"contacts": body["contacts"]},
                                   headers=desk.as_("manager", **{"If-Match": '"1"'}))
    assert edit.status_code == 422 and edit.json()["type"].endswith("duplicate-contact")
    kept = (await desk.client.get("/v1/suppliers/acme", headers=desk.as_("reporter"))).json()
    assert kept["contacts"] == made["contacts"] and kept["version"] == 1


async def test_send_to_finds_the_contact_in_any_spelling(desk: ScarDesk) -> None:
    await desk.supplier()
    capa = await desk.open()
    for spelling in (" JANA@Acme.example", FULL_WIDTH):
        sent = await desk.send(capa["id"], contact_email=spelling)
        assert sent.status_code == 201, sent.text
        assert sent.json()["contact_email"] == "jana@acme.example"
        assert desk.box.messages[-1]["To"] == "jana@acme.example"
    unknown = await desk.send(capa["id"], contact_email="jan@acme.example")
    assert unknown.status_code == 409 and unknown.json()["title"] == "Unknown contact"


@pytest.mark.parametrize("bad", ["Acme\r\nBcc: x@evil.example", "Acme\tSeals", "Acme\x0bSeals",
                                 "Acme\x0cSeals", "Acme \u202efdp.exe", "\ufeffAcme",
                                 "Acme\u2028Seals"])
async def test_names_are_one_line_or_a_422_the_schema_states(desk: ScarDesk, bad: str) -> None:
    """A control or bidi character in a supplier's or contact's name, or in what it
    supplies, went into the API, the CSV and the SCAR's e-mail as it was typed."""
    pattern = (await desk.client.get("/openapi.json")).json()["components"]["schemas"][
        "SupplierCreate"]["properties"]["name"]["pattern"]
    assert "\\u202a-\\u202e" in pattern and "\\x01-\\x1f" in pattern
    for body in ({"code": "acme", "name": bad, "criticality": "low"},
                 {"code": "acme", "name": "Acme", "supplies": bad, "criticality": "low"},
                 {"code": "acme", "name": "Acme", "criticality": "low",
                  "contacts": [{"name": bad, "email": "jana@acme.example"}]}):
        refused = await desk.client.post("/v1/suppliers", json=body,
                                         headers=desk.as_("manager"))
        assert refused.status_code == 422, (body, refused.text)
    made = await desk.supplier()
    changed = await desk.client.patch(f"/v1/suppliers/{made['code']}", json={"name": bad},
                                      headers=desk.as_("manager") | {"If-Match": "*"})
    assert changed.status_code in (422, 428), changed.text
    # The ends are stripped as before: only inside a name are these refused.
    kept = await desk.client.post("/v1/suppliers", headers=desk.as_("manager"), json={
        "code": "bolts", "name": " Bolts GmbH\n", "criticality": "low"})
    assert kept.status_code == 201 and kept.json()["name"] == "Bolts GmbH", kept.text
