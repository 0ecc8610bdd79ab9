"""The CAPA API does what its OpenAPI says (issue 13.11): rules the schema
states are checked before the If-Match, an action marked done brings its
evidence, likelihood is a JSON integer, and an inverted review period is empty."""

import pytest

from tests.integration.capa.conftest import Capas, root_cause_form

STALE = {"If-Match": '"999"'}


async def test_request_rules_come_before_a_stale_if_match(capas: Capas) -> None:
    capa = await capas.open()
    h = capas.as_("engineer", **STALE)
    emptied = await capas.client.patch(f"/v1/capas/{capa['id']}", json={"likelihood": None},
                                       headers=h)
    assert emptied.status_code == 422, emptied.text
    incomplete = await capas.client.put(f"/v1/capas/{capa['id']}/root-cause", headers=h,
                                        json=root_cause_form(root_cause=None))
    assert incomplete.status_code == 422, incomplete.text
    action = await capas.add_action(capa["id"])
    done = await capas.client.patch(f"/v1/capas/{capa['id']}/actions/{action['id']}",
                                    json={"status": "done"}, headers=h)
    assert done.status_code == 422, done.text
    # Well-formed, so the stale tag is what is wrong.
    stale = await capas.client.patch(f"/v1/capas/{capa['id']}", json={"likelihood": 2},
                                     headers=h)
    assert stale.status_code == 412


@pytest.mark.requirement("iso13485-8.5.2d", "cfr820-100a5")
async def test_done_needs_its_evidence_in_the_same_request(capas: Capas) -> None:
    capa = await capas.open()
    action = await capas.add_action(capa["id"])
    url = f"/v1/capas/{capa['id']}/actions/{action['id']}"
    noted = await capas.client.patch(url, json={"completion_evidence": "ECO-12 released"},
                                     headers=capas.as_("engineer", **{"If-Match": '"1"'}))
    assert noted.status_code == 200, noted.text
    # Stored evidence does not count: the schema cannot see it.
    bare = await capas.client.patch(url, json={"status": "done"},
                                    headers=capas.as_("engineer", **{"If-Match": '"2"'}))
    assert bare.status_code == 422
    assert bare.json()["errors"][0]["field"] == "completion_evidence"


async def test_likelihood_is_a_json_integer(capas: Capas) -> None:
    assert (await capas.open(likelihood=4.0))["likelihood"] == 4
    for bad in (4.5, True, "4", 6):
        response = await capas.client.post("/v1/capas", headers=capas.as_("engineer"),
                                           json={"title": "t", "severity": "minor",
                                                 "likelihood": bad})
        assert response.status_code == 422, (bad, response.text)


async def test_an_inverted_review_period_is_refused(capas: Capas) -> None:
    """Its figures would read as zero flows under real dates (shared.periods)."""
    await capas.open()
    review = await capas.client.get("/v1/management-review", headers=capas.as_("reporter"),
                                    params={"since": "2026-12-01", "until": "2026-01-01"})
    assert review.status_code == 422, review.text
    assert review.json()["type"] == "urn:capaflow:problem:period-not-forward"
    assert review.json()["errors"][0]["field"] == "query.since"
