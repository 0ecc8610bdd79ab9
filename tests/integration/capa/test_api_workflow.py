"""The CAPA workflow end to end over HTTP (SQLite + sql bus, app in-process)."""

import asyncio
import uuid
from typing import Any

import pytest

from tests.integration.capa.conftest import Capas, root_cause_form


@pytest.mark.requirement("iso9001-10.2.1f", "iso9001-10.2.2", "cfr820-100a5", "cfr820-100b")
async def test_a_capa_goes_from_open_to_closed_and_publishes_its_lesson(capas: Capas) -> None:
    capa = await capas.open(owner="test-engineer", severity="critical", likelihood=4)
    assert capa["number"].startswith("CAPA-2026-") or capa["number"].startswith("CAPA-")
    assert capa["status"] == "open" and capa["risk_score"] == 20
    assert capa["allowed_transitions"] == ["investigating", "cancelled"]
    await capas.to_verifying(capa["id"])
    verified = await capas.verify(capa["id"])
    assert verified.status_code == 201, verified.text

    closed = await capas.move(capa["id"], "closed", role="manager", reason="effective",
                              lesson={"what_to_do_differently": "State operating temperature "
                                      "in every gasket spec", "tags": ["Seals", "specs"]})
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed" and closed.json()["allowed_transitions"] == []

    lessons = await capas.client.get("/v1/lessons", params={"text": "gasket", "tag": "seals"},
                                     headers=capas.as_("reporter"))
    assert lessons.status_code == 200
    [lesson] = lessons.json()["items"]
    assert lesson["capa_id"] == capa["id"]
    assert lesson["cause_category"] == "materials_supplier"
    assert lesson["tags"] == ["seals", "specs"]
    assert lesson["actions"] == ["corrective: Replace the seal supplier's gasket spec"]
    of_capa = await capas.client.get("/v1/lessons", params={"capa_id": capa["id"]},
                                     headers=capas.as_("reporter"))
    assert [item["capa_id"] for item in of_capa.json()["items"]] == [capa["id"]]
    for params in ({"category": "people"}, {"tag": "spec"}, {"text": "unrelated"},
                   {"capa_id": "00000000-0000-4000-8000-000000000000"}):
        other = await capas.client.get("/v1/lessons", params=params,
                                       headers=capas.as_("reporter"))
        assert other.json()["items"] == [], params

    trail = await capas.client.get(f"/v1/capas/{capa['id']}/audit-trail",
                                   headers=capas.as_("reporter"))
    actions = [e["action"] for e in trail.json()["items"]]
    assert actions[0] == "opened" and actions[-1] == "status_changed"
    assert "root_cause_submitted" in actions and "effectiveness_verified" in actions
    check = await capas.client.get(f"/v1/capas/{capa['id']}/audit-trail/verify",
                                   headers=capas.as_("reporter"))
    assert check.json() == {"valid": True, "entries": len(actions),
                            "first_broken_sequence": None, "problem": None,
                            "legacy_entries": 0, "head_checked": True}


@pytest.mark.requirement("part11-11.10f")
async def test_illegal_transition_is_409_naming_the_allowed_moves(capas: Capas) -> None:
    capa = await capas.open()
    response = await capas.move(capa["id"], "verifying")
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["allowed"] == ["investigating", "cancelled"]
    assert "investigating" in response.json()["detail"]


@pytest.mark.requirement("part11-11.10f", "iso9001-10.2.1c", "iso13485-8.5.2d")
async def test_guards_refuse_with_409_until_met(capas: Capas) -> None:
    capa = await capas.open()
    await capas.move(capa["id"], "investigating")
    no_rca = await capas.move(capa["id"], "action_planned")
    assert no_rca.status_code == 409 and "root-cause" in no_rca.json()["detail"]
    assert (await capas.submit_root_cause(capa["id"])).status_code == 200
    assert (await capas.move(capa["id"], "action_planned")).status_code == 200
    no_action = await capas.move(capa["id"], "implementing")
    assert no_action.status_code == 409 and "action" in no_action.json()["detail"]
    action = await capas.add_action(capa["id"])
    assert (await capas.move(capa["id"], "implementing")).status_code == 200
    unfinished = await capas.move(capa["id"], "verifying")
    assert unfinished.status_code == 409 and "done" in unfinished.json()["detail"]
    assert (await capas.finish_action(capa["id"], action)).status_code == 200
    assert (await capas.move(capa["id"], "verifying")).status_code == 200
    unverified = await capas.move(capa["id"], "closed", role="manager",
                                  lesson={"what_to_do_differently": "x"})
    assert unverified.status_code == 409 and "effective" in unverified.json()["detail"]


@pytest.mark.requirement("iso9001-10.2.1d", "iso13485-8.5.2f", "iso13485-8.5.2-records")
async def test_a_failed_effectiveness_check_reopens_the_investigation(capas: Capas) -> None:
    capa = await capas.open(owner="someone-else")
    await capas.to_verifying(capa["id"])
    premature = await capas.move(capa["id"], "investigating", reason="try")
    assert premature.status_code == 409
    assert (await capas.verify(capa["id"], result="not_effective")).status_code == 201
    cannot_close = await capas.move(capa["id"], "closed", role="manager",
                                    lesson={"what_to_do_differently": "x"})
    assert cannot_close.status_code == 409
    reopened = await capas.move(capa["id"], "investigating", role="verifier",
                                reason="Leaks came back after 10 days")
    assert reopened.status_code == 200, reopened.text
    assert reopened.json()["reopen_count"] == 1
    # The analysis must be revised and submitted again before planning more actions.
    analysis = await capas.client.get(f"/v1/capas/{capa['id']}/root-cause",
                                      headers=capas.as_("engineer"))
    assert analysis.json()["status"] == "draft"
    assert (await capas.move(capa["id"], "action_planned")).status_code == 409
    assert (await capas.submit_root_cause(capa["id"])).status_code == 200
    versions = await capas.client.get(f"/v1/capas/{capa['id']}/root-cause/submissions",
                                      headers=capas.as_("engineer"))
    assert [v["revision"] for v in versions.json()] == [1, 2]
    # The failed cycle's actions do not count for the new one.
    assert (await capas.move(capa["id"], "action_planned")).status_code == 200
    old_actions = await capas.move(capa["id"], "implementing")
    assert old_actions.status_code == 409 and "new action" in old_actions.json()["detail"]
    await capas.add_action(capa["id"])
    assert (await capas.move(capa["id"], "implementing")).status_code == 200


async def test_cancelling_needs_a_manager_and_a_reason(capas: Capas) -> None:
    capa = await capas.open()
    by_engineer = await capas.move(capa["id"], "cancelled", reason="duplicate")
    assert by_engineer.status_code == 403
    no_reason = await capas.move(capa["id"], "cancelled", role="manager")
    assert no_reason.status_code == 409 and "reason" in no_reason.json()["detail"]
    done = await capas.move(capa["id"], "cancelled", role="manager", reason="duplicate")
    assert done.status_code == 200 and done.json()["cancel_reason"] == "duplicate"
    again = await capas.move(capa["id"], "investigating")
    assert again.status_code == 409 and again.json()["allowed"] == []


async def test_a_capa_under_investigation_can_be_cancelled(capas: Capas) -> None:
    capa = await capas.open()
    await capas.move(capa["id"], "investigating")
    done = await capas.move(capa["id"], "cancelled", role="manager", reason="Raised twice")
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "cancelled"


async def test_transition_options_name_roles_readiness_and_blockers(capas: Capas) -> None:
    capa = await capas.open()
    await capas.move(capa["id"], "investigating")

    async def options(role: str) -> dict[str, dict[str, object]]:
        answer = await capas.client.get(f"/v1/capas/{capa['id']}/transitions",
                                        headers=capas.as_(role))
        assert answer.status_code == 200, answer.text
        return {o["to"]: o for o in answer.json()}

    engineer = await options("engineer")
    assert set(engineer) == {"action_planned", "cancelled"}
    plan = engineer["action_planned"]
    assert plan["you_may"] and not plan["ready"] and "root-cause" in str(plan["blocked_by"])
    assert not engineer["cancelled"]["you_may"] and engineer["cancelled"]["needs_reason"]
    manager = await options("manager")
    assert manager["cancelled"]["you_may"] and manager["cancelled"]["ready"]
    reporter = await options("reporter")
    assert not any(o["you_may"] for o in reporter.values())
    assert (await capas.submit_root_cause(capa["id"])).status_code == 200
    plan = (await options("engineer"))["action_planned"]
    assert plan["ready"] and plan["blocked_by"] is None
    # What the options promise, the move does.
    assert (await capas.move(capa["id"], "action_planned")).status_code == 200


@pytest.mark.requirement("part11-11.10g")
async def test_closing_needs_the_manager_role(capas: Capas) -> None:
    capa = await capas.open()
    await capas.to_verifying(capa["id"])
    await capas.verify(capa["id"])
    lesson = {"what_to_do_differently": "Check specs"}
    assert (await capas.move(capa["id"], "closed", lesson=lesson)).status_code == 403
    no_lesson = await capas.move(capa["id"], "closed", role="manager")
    assert no_lesson.status_code == 422
    assert (await capas.move(capa["id"], "closed", role="admin",
                             lesson=lesson)).status_code == 200


@pytest.mark.requirement("iso9001-10.2.1d", "part11-11.10g")
async def test_the_verifier_is_not_the_capa_owner(capas: Capas) -> None:
    capa = await capas.open(owner="test-verifier")
    await capas.to_verifying(capa["id"])
    own = await capas.verify(capa["id"], role="verifier")
    assert own.status_code == 403 and "owns" in own.json()["detail"]
    assert (await capas.verify(capa["id"], role="manager")).status_code == 201


async def test_root_cause_needs_if_match_and_refuses_a_stale_one(capas: Capas) -> None:
    capa = await capas.open()
    url = f"/v1/capas/{capa['id']}/root-cause"
    missing = await capas.client.put(url, json={"status": "draft"},
                                     headers=capas.as_("engineer"))
    assert missing.status_code == 428
    first = await capas.client.get(url, headers=capas.as_("engineer"))
    assert first.headers["etag"] == '"0"'
    saved = await capas.client.put(url, json={"status": "draft", "problem_statement": "Leak"},
                                   headers=capas.as_("engineer", **{"If-Match": '"0"'}))
    assert saved.status_code == 200 and saved.headers["etag"] == '"1"'
    stale = await capas.client.put(url, json={"status": "draft", "problem_statement": "Drip"},
                                   headers=capas.as_("manager", **{"If-Match": '"0"'}))
    assert stale.status_code == 412 and stale.json()["current_etag"] == '"1"'


async def test_two_concurrent_root_cause_edits_one_wins_the_other_gets_412(
        capas: Capas) -> None:
    capa = await capas.open()
    url = f"/v1/capas/{capa['id']}/root-cause"

    async def edit(role: str, text: str) -> int:
        response = await capas.client.put(
            url, json={"status": "draft", "problem_statement": text},
            headers=capas.as_(role, **{"If-Match": '"0"'}))
        return response.status_code

    results = await asyncio.gather(edit("engineer", "A"), edit("manager", "B"))
    assert sorted(results) == [200, 412]
    current = await capas.client.get(url, headers=capas.as_("engineer"))
    assert current.json()["version"] == 1


@pytest.mark.requirement("iso13485-8.5.2b", "cfr820-100a2")
async def test_submitting_a_short_why_chain_needs_a_justification(capas: Capas) -> None:
    capa = await capas.open()
    url = f"/v1/capas/{capa['id']}/root-cause"
    form = root_cause_form(whys=[{"why": "Why leak?", "because": "Gasket hard"}])
    short = await capas.client.put(url, json=form,
                                   headers=capas.as_("engineer", **{"If-Match": '"0"'}))
    assert short.status_code == 422
    assert [e["field"] for e in short.json()["errors"]] == ["whys"]
    form["short_chain_justification"] = "The supplier confirmed the compound at once"
    ok = await capas.client.put(url, json=form,
                                headers=capas.as_("engineer", **{"If-Match": '"0"'}))
    assert ok.status_code == 200 and ok.json()["status"] == "submitted"
    listed: Any = await capas.client.get(f"/v1/capas/{capa['id']}",
                                         headers=capas.as_("reporter"))
    assert listed.json()["cause_category"] == "materials_supplier"


@pytest.mark.requirement("iso9001-10.2.1c", "iso13485-8.5.2d", "cfr820-100a3")
async def test_action_rules(capas: Capas) -> None:
    capa = await capas.open()
    action = await capas.add_action(capa["id"])
    url = f"/v1/capas/{capa['id']}/actions/{action['id']}"
    no_evidence = await capas.client.patch(url, json={"status": "done"},
                                           headers=capas.as_("engineer", **{"If-Match": '"1"'}))
    assert no_evidence.status_code == 422
    assert no_evidence.json()["errors"][0]["field"] == "completion_evidence"
    assert (await capas.finish_action(capa["id"], action)).status_code == 200
    final = await capas.client.patch(url, json={"status": "in_progress"},
                                     headers=capas.as_("engineer", **{"If-Match": '"2"'}))
    assert final.status_code == 409
    stale = await capas.client.patch(url, json={"owner": "x"},
                                     headers=capas.as_("engineer", **{"If-Match": '"1"'}))
    assert stale.status_code == 412
    read = await capas.client.get(url, headers=capas.as_("reporter"))
    assert read.headers["etag"] == '"2"' and read.json()["completed_by"] == "test-engineer"


async def test_no_actions_are_added_once_verifying(capas: Capas) -> None:
    capa = await capas.open(owner="someone")
    await capas.to_verifying(capa["id"])
    late = await capas.client.post(f"/v1/capas/{capa['id']}/actions", headers=capas.as_(
        "engineer"), json={"kind": "preventive", "description": "d", "owner": "o",
                           "due_date": "2027-01-01"})
    assert late.status_code == 409 and late.json()["status_now"] == "verifying"


@pytest.mark.requirement("iso9001-10.2.1e", "part11-11.10e")
async def test_editing_likelihood_recomputes_risk_and_is_audited(capas: Capas) -> None:
    capa = await capas.open(severity="minor", likelihood=1)
    assert capa["risk_score"] == 2
    edited = await capas.client.patch(
        f"/v1/capas/{capa['id']}", json={"likelihood": 5, "reason": "seen weekly"},
        headers=capas.as_("manager", **{"If-Match": f'"{capa["version"]}"'}))
    assert edited.status_code == 200, edited.text
    assert edited.json()["risk_score"] == 10
    assert edited.headers["etag"] == f'"{capa["version"] + 1}"'
    trail = await capas.client.get(f"/v1/capas/{capa['id']}/audit-trail",
                                   headers=capas.as_("reporter"))
    last = trail.json()["items"][-1]
    assert last["action"] == "updated" and last["actor"] == "test-manager"
    # The old risk too, so the entry says "Risk: 2 -> 10" (issue 16, audit changes).
    assert last["before"] == {"likelihood": 1, "risk_score": 2}
    assert last["reason"] == "seen weekly"
    assert last["after"] == {"likelihood": 5, "risk_score": 10}


async def test_an_nc_of_a_cancelled_capa_can_get_a_new_one(capas: Capas) -> None:
    nc_id = str(uuid.uuid4())
    first = await capas.client.post("/v1/capas", headers=capas.as_("engineer"), json={
        "title": "Export loses rows", "severity": "major", "nonconformity_id": nc_id})
    assert first.status_code == 201, first.text
    taken = await capas.client.post("/v1/capas", headers=capas.as_("engineer"), json={
        "title": "Export loses rows again", "severity": "major", "nonconformity_id": nc_id})
    assert taken.status_code == 409
    assert (await capas.move(first.json()["id"], "cancelled", role="manager",
                             reason="wrong scope")).status_code == 200
    second = await capas.client.post("/v1/capas", headers=capas.as_("engineer"), json={
        "title": "Export loses rows (rescoped)", "severity": "major",
        "nonconformity_id": nc_id})
    assert second.status_code == 201, second.text
    assert second.json()["nonconformity_ids"] == [nc_id]


@pytest.mark.requirement("iso9001-10.2.1e", "cfr820-100a3")
async def test_a_preventive_capa_comes_from_a_risk(capas: Capas) -> None:
    r = await capas.client.post("/v1/capas", headers=capas.as_("manager"), json={
        "title": "Single gasket supplier", "kind": "preventive", "severity": "minor",
        "source": "audit"})
    assert r.status_code == 201 and r.json()["source"] == "risk"


async def test_a_signature_only_on_a_move_that_can_be_signed_as_the_schema_says(
        capas: Capas) -> None:
    """A signature on a move that takes none is refused (422), and the published
    schema says so, so a client (and the fuzz test) can know it beforehand."""
    capa = await capas.open()
    refused = await capas.client.post(
        f"/v1/capas/{capa['id']}/transitions", headers=capas.as_("engineer"),
        json={"to": "investigating", "signature": {"meaning": "review"}})
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"] == "signature"
    schema = (await capas.client.get("/openapi.json")).json()
    rules = schema["components"]["schemas"]["TransitionRequest"]["allOf"]
    signature_rule = next(r for r in rules if "signature" in str(r.get("else")))
    assert sorted(signature_rule["if"]["properties"]["to"]["enum"]) == [
        "action_planned", "closed"]
    assert signature_rule["else"]["properties"]["signature"] == {"type": "null"}
