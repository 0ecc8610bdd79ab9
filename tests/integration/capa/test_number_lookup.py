"""A CAPA is found by its readable number (GET /v1/capas?number=...): how the UI
resolves "CAPA-2026-00017" typed into a form."""

from tests.integration.capa.conftest import Capas


async def test_the_list_finds_a_capa_by_its_number_in_any_case(capas: Capas) -> None:
    first, second = await capas.open(), await capas.open(title="Label misprint")
    for typed in (second["number"], second["number"].lower()):
        page = await capas.client.get("/v1/capas", params={"number": typed},
                                      headers=capas.as_("reporter"))
        assert page.status_code == 200, page.text
        assert [c["id"] for c in page.json()["items"]] == [second["id"]]
        assert page.json()["total"] == 1
    assert first["id"] != second["id"]
    none = await capas.client.get("/v1/capas", params={"number": "CAPA-1999-00001"},
                                  headers=capas.as_("reporter"))
    assert none.json()["items"] == []


async def test_hostile_number_text_is_a_422(capas: Capas) -> None:
    for typed in ("' OR 1=1 --", "%", "x" * 40):
        answer = await capas.client.get("/v1/capas", params={"number": typed},
                                        headers=capas.as_("reporter"))
        assert answer.status_code == 422, (typed, answer.text)
