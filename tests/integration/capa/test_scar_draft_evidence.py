"""A supplier's evidence files are their draft until they submit (issue 15): the
engineer's views list and serve only files a submission held (a file attached
after a rejection shows with the next submission), the supplier removes a draft
file (204; a submitted one is a 409, an unknown one or another SCAR's a 404), and
removing is on the trail and an event, like attaching. SQLite and PostgreSQL."""

import uuid
from typing import Any

from tests import evidence_samples as samples
from tests.integration.capa.scar_harness import (
    ScarDesk,
    complete_response,
    desk,
    mailbox,
)

__all__ = ["desk", "mailbox"]  # the fixtures, imported so pytest finds them here



async def _attach(desk: ScarDesk, token: str, name: str, content: bytes) -> dict[str, Any]:
    made = await desk.client.post("/v1/supplier-response/evidence",
                                  files={"file": (name, content, "application/pdf")},
                                  headers=desk.link(token))
    assert made.status_code == 201, made.text
    assert made.json()["submitted"] is False
    return dict(made.json())


async def _engineer_sees(desk: ScarDesk, scar_id: str) -> list[str]:
    seen = await desk.client.get(f"/v1/scars/{scar_id}", headers=desk.as_("reporter"))
    listed = await desk.client.get(f"/v1/capas/{seen.json()['capa_id']}/scars",
                                   headers=desk.as_("reporter"))
    [in_list] = [s for s in listed.json() if s["id"] == scar_id]
    assert in_list["evidence"] == seen.json()["evidence"]
    return [f["filename"] for f in seen.json()["evidence"]]


async def _engineer_download(desk: ScarDesk, scar_id: str, file_id: str) -> int:
    got = await desk.client.get(f"/v1/scars/{scar_id}/evidence/{file_id}",
                                headers=desk.as_("reporter"))
    return got.status_code


async def test_files_are_the_suppliers_until_submitted(desk: ScarDesk) -> None:
    await desk.supplier()
    capa = await desk.open()
    scar, token = await desk.sent_scar(capa["id"])
    report = await _attach(desk, token, "8D report.pdf", samples.pdf())
    wrong = await _attach(desk, token, "wrong lot.pdf", samples.pdf(b"%wrong"))

    # Attached, not submitted: the engineer neither lists nor downloads them.
    assert await _engineer_sees(desk, scar["id"]) == []
    assert await _engineer_download(desk, scar["id"], report["id"]) == 404

    removed = await desk.client.delete(f"/v1/supplier-response/evidence/{wrong['id']}",
                                       headers=desk.link(token))
    assert removed.status_code == 204, removed.text
    again = await desk.client.delete(f"/v1/supplier-response/evidence/{wrong['id']}",
                                     headers=desk.link(token))
    assert again.status_code == 404
    mine = (await desk.client.get("/v1/supplier-response", headers=desk.link(token))).json()
    assert [(f["filename"], f["submitted"]) for f in mine["evidence"]] == [
        ("8D report.pdf", False)]

    assert (await desk.client.put("/v1/supplier-response", json=complete_response(),
                                  headers=desk.link(token))).status_code == 200
    assert (await desk.client.post("/v1/supplier-response/submission",
                                   headers=desk.link(token))).status_code == 200
    assert await _engineer_sees(desk, scar["id"]) == ["8D report.pdf"]
    assert await _engineer_download(desk, scar["id"], report["id"]) == 200
    responded = await desk.events("capaflow.scar.responded.v1")
    assert responded[-1]["evidence_files"] == 1

    rejected = await desk.client.post(f"/v1/scars/{scar['id']}/decision",
                                      json={"decision": "reject", "reason": "Add the lab test"},
                                      headers=desk.as_("engineer"))
    assert rejected.status_code == 200
    # Submitted once, it stays: the engineer judged it.
    kept = await desk.client.delete(f"/v1/supplier-response/evidence/{report['id']}",
                                    headers=desk.link(token))
    assert kept.status_code == 409 and "submitted" in kept.json()["detail"]
    lab = await _attach(desk, token, "lab test.pdf", samples.pdf(b"%lab"))
    mine = (await desk.client.get("/v1/supplier-response", headers=desk.link(token))).json()
    assert [(f["filename"], f["submitted"]) for f in mine["evidence"]] == [
        ("8D report.pdf", True), ("lab test.pdf", False)]
    assert await _engineer_sees(desk, scar["id"]) == ["8D report.pdf"]
    assert await _engineer_download(desk, scar["id"], lab["id"]) == 404
    # The supplier reads their own draft file.
    own = await desk.client.get(f"/v1/supplier-response/evidence/{lab['id']}",
                                headers=desk.link(token))
    assert own.status_code == 200

    assert (await desk.client.post("/v1/supplier-response/submission",
                                   headers=desk.link(token))).status_code == 200
    assert sorted(await _engineer_sees(desk, scar["id"])) == ["8D report.pdf", "lab test.pdf"]
    assert await _engineer_download(desk, scar["id"], lab["id"]) == 200
    # With the engineer now: nothing to remove.
    late = await desk.client.delete(f"/v1/supplier-response/evidence/{lab['id']}",
                                    headers=desk.link(token))
    assert late.status_code == 409

    trail = [e for e in await desk.audit(capa["id"])
             if e.action in ("scar_evidence_attached", "scar_evidence_removed")]
    assert [e.action for e in trail] == ["scar_evidence_attached", "scar_evidence_attached",
                                        "scar_evidence_removed", "scar_evidence_attached"]
    assert trail[2].actor == "supplier:acme-seals"
    # A draft's file is the supplier's: every role reads the trail, so its entries
    # hold the file's id only; the submission's entry names what was submitted.
    for entry in trail:
        for side in (entry.before or {}, entry.after or {}):
            assert set(side) <= {"scar_id", "attachment_id"}, side
    assert trail[2].before is not None and trail[2].before["attachment_id"] == wrong["id"]
    submitted = [e for e in await desk.audit(capa["id"]) if e.action == "scar_responded"]
    assert [[(f["filename"], f["attachment_id"]) for f in e.after["evidence"]]
            for e in submitted if e.after] == [
        [("8D report.pdf", report["id"])],
        [("8D report.pdf", report["id"]), ("lab test.pdf", lab["id"])]]
    assert all(len(f["sha256"]) == 64 for e in submitted if e.after
               for f in e.after["evidence"])
    # No event of a draft file: scar.responded.v1 counts the submitted ones.
    assert not await desk.events("capaflow.scar.evidence_attached.v1")
    assert not await desk.events("capaflow.scar.evidence_removed.v1")
    assert [r["evidence_files"] for r in await desk.events("capaflow.scar.responded.v1")] \
        == [1, 2]


async def test_a_file_of_another_scar_or_an_unknown_one_is_a_404(desk: ScarDesk) -> None:
    await desk.supplier()
    _, token_a = await desk.sent_scar()
    _, token_b = await desk.sent_scar()
    theirs = await _attach(desk, token_b, "b.pdf", samples.pdf())
    for attachment in (theirs["id"], str(uuid.uuid4())):
        refused = await desk.client.delete(f"/v1/supplier-response/evidence/{attachment}",
                                           headers=desk.link(token_a))
        assert refused.status_code == 404, attachment
    malformed = await desk.client.delete("/v1/supplier-response/evidence/not-an-id",
                                         headers=desk.link(token_a))
    assert malformed.status_code == 422
    dead = await desk.client.delete(f"/v1/supplier-response/evidence/{theirs['id']}",
                                    headers=desk.link("A" * 43))
    assert dead.status_code == 404
    still = (await desk.client.get("/v1/supplier-response", headers=desk.link(token_b))).json()
    assert [f["id"] for f in still["evidence"]] == [theirs["id"]]
