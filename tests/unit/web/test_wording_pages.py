"""One label per concept (issue 16 part 6): every page rendered against a fake API
whose answers hold every value of the services' vocabularies; no page shows a raw
value (``in_progress``, ``materials_supplier``, ``major``) as text a person reads,
and a cause category reads the same on every page that shows one."""

import re
import uuid
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from services.web.pages.choices import CAUSE_LABELS, FINDING_LABELS, LABELLED, RESULT_LABELS
from shared.vocabulary import (
    ActionKind,
    ActionStatus,
    CapaKind,
    CapaLink,
    CapaStatus,
    CauseCategory,
    Channel,
    DeliveryMode,
    DeliveryStatus,
    NonconformityStatus,
    Severity,
    Source,
)
from tests.unit.web.conftest import FakeApi, sign_in
from tests.unit.web.test_manager_pages import REVIEW, WEEKLY

RAW = {m.value for vocabulary in LABELLED for m in vocabulary} | set(RESULT_LABELS) | set(
    FINDING_LABELS)
UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
CAUSE = CauseCategory.equipment_technology
CAUSE_LABEL = CAUSE_LABELS[CAUSE]
WHEN = "2026-11-20T09:00:00Z"


def _nc(n: int, **extra: Any) -> dict[str, Any]:
    statuses, sources, severities = list(NonconformityStatus), list(Source), list(Severity)
    links = list(CapaLink)
    return {"id": str(uuid.UUID(int=n + 1)), "number": f"NC-2026-{n:05d}", "version": 1,
            "title": f"Labels smear {n}", "description": "Ink wet", "category": "labels",
            "severity": severities[n % len(severities)], "source": sources[n % len(sources)],
            "status": statuses[n % len(statuses)], "capa_link": links[n % len(links)],
            "capa_id": None, "capa_number": None, "owner": "dev-engineer", "tags": ["ink"],
            "external_ref": f"ZD-{n}", "links": [], "reporter": None, "reported_by": "rep",
            "occurrence_count": 1, "created_at": WHEN, "last_seen": WHEN,
            "occurred_at": None, "affected_item": None, "audit_ref": None,
            "triage_reason": None, "duplicate_of": None, "correction": None,
            "escalated_at": None, "resolution": None, "attachments": []} | extra


def _capa(n: int, status: CapaStatus, **extra: Any) -> dict[str, Any]:
    return {"id": str(uuid.UUID(int=100 + n)), "number": f"CAPA-2026-{n:05d}",
            "title": f"Dryer left off {n}", "description": None,
            "kind": list(CapaKind)[n % 2], "source": list(Source)[n % len(Source)],
            "severity": list(Severity)[n % len(Severity)], "likelihood": 3, "risk_score": 9,
            "status": status, "allowed_transitions": [], "owner": "dev-engineer",
            "due_date": "2026-12-20", "overdue": n % 2 == 0, "reopen_count": 0,
            "nonconformity_ids": [], "cause_category": CAUSE, "effectiveness_plan": {
                "criteria": "No smear for 14 days", "check_date": "2026-11-01"},
            "created_by": "dev-engineer", "opened_at": WHEN, "closed_at": None,
            "cancelled_at": None, "cancel_reason": None, "version": 2,
            "signatures": []} | extra


def _action(n: int, kind: ActionKind, status: ActionStatus) -> dict[str, Any]:
    return {"id": str(uuid.UUID(int=200 + n)), "kind": kind, "status": status,
            "description": f"Step {n}", "owner": "dev-engineer", "due_date": "2026-12-01",
            "overdue": False, "version": 1, "completion_evidence": None, "completed_by": None,
            "completed_at": None, "attachments": [], "capa_id": str(uuid.UUID(int=100)),
            "capa_number": "CAPA-2026-00000", "capa_title": "Dryer left off 0"}


def _lesson(n: int) -> dict[str, Any]:
    return {"id": str(uuid.UUID(int=300 + n)), "capa_id": str(uuid.UUID(int=100 + n)),
            "capa_number": f"CAPA-2026-{n:05d}", "title": "Dryer left off",
            "problem": "Smear", "root_cause": "No start check", "cause_category": CAUSE,
            "actions": ["Add the dryer"], "what_to_do_differently": "Check dryers",
            "tags": ["print"], "published_at": WHEN}


def _sub(n: int) -> dict[str, Any]:
    return {"id": str(uuid.UUID(int=400 + n)), "owner": "dev-manager",
            "channel": list(Channel)[n % len(Channel)],
            "mode": list(DeliveryMode)[n % len(DeliveryMode)],
            "target": f"https://hooks.example/{n}", "active": n != 1,
            "filter": {"event_types": ["capaflow.capa.*"], "min_severity": Severity.major,
                       "sources": [s.value for s in Source]},
            "description": None, "disabled_reason": None, "previous_secret_expires_at": None,
            "created_at": WHEN, "updated_at": WHEN}


def _delivery(n: int, status: DeliveryStatus) -> dict[str, Any]:
    return {"id": str(uuid.UUID(int=500 + n)), "subscription_id": str(uuid.UUID(int=400)),
            "event_id": "e1", "event_type": "capaflow.capa.closed.v1", "subject": "x",
            "status": status, "attempts": 1, "next_attempt_at": None,
            "last_attempt_at": WHEN, "last_status_code": 500, "last_error": "HTTP 500",
            "delivered_at": None, "created_at": WHEN}


def _page(items: list[dict[str, Any]]) -> httpx.Response:
    return httpx.Response(200, json={"items": items, "total": len(items), "next_cursor": None})


@pytest.fixture
def everything(fake_api: FakeApi) -> dict[str, str]:
    """Every page's API answers, holding every value of every vocabulary; the paths."""
    ncs = [_nc(n) for n in range(len(Source))]
    # The NC page shown: an audit finding, with the history entries that refer to a CAPA
    # and to another NC by id.
    ncs[0] |= {"audit_ref": "IA-2026-11", "clause": "8.5.1", "finding_type": "major_nc",
               "auditor": "Ann", "evidence": "Seen", "triage_reason": "Same leak",
               "duplicate_of": ncs[1]["id"]}
    capa_id = str(uuid.UUID(int=100))
    capas = [_capa(n, status) for n, status in enumerate(CapaStatus)]
    shown = capas[list(CapaStatus).index(CapaStatus.verifying)]
    shown["allowed_transitions"] = [CapaStatus.closed, CapaStatus.investigating]
    actions = [_action(n, kind, status) for n, (kind, status) in enumerate(
        zip(list(ActionKind) * 2, list(ActionStatus), strict=False))]
    subs = [_sub(n) for n in range(3)]
    on = fake_api.on
    on("GET", "/v1/nonconformities", _page(ncs))
    for nc in ncs:
        on("GET", f"/v1/nonconformities/{nc['id']}",
           httpx.Response(200, json=nc, headers={"etag": '"1"'}))
        on("GET", f"/v1/nonconformities/{nc['id']}/history", httpx.Response(200, json=[
            {"at": WHEN, "actor": "rep", "action": "reported", "reason": None,
             "changes": {"severity": {"before": "minor", "after": "major"}}},
            {"at": WHEN, "actor": "eng", "action": "triaged", "reason": "Same leak",
             "changes": {"status": {"before": "reported", "after": "duplicate"},
                         "owner": "eng", "duplicate_of": ncs[1]["id"]}},
            {"at": WHEN, "actor": "nc-service", "action": "escalated", "reason": None,
             "changes": {"reason": "audit_finding", "occurrences_in_window": 1}},
            {"at": WHEN, "actor": "capa-service", "action": "capa_opened", "reason": None,
             "changes": {"capa_id": capa_id, "capa_number": "CAPA-2026-00010"}},
            {"at": WHEN, "actor": "eng", "action": "evidence_attached", "reason": None,
             "changes": {"attachment_id": capa_id, "filename": "photo.png"}}]))
    on("GET", "/v1/capas", _page(capas))
    base = f"/v1/capas/{shown['id']}"
    on("GET", base, httpx.Response(200, json=shown, headers={"etag": '"2"'}))
    on("GET", f"{base}/root-cause", httpx.Response(200, headers={"etag": '"3"'}, json={
        "status": "submitted", "problem_statement": "Smear", "whys": [
            {"why": "Why smear?", "because": "Wet ink"}] * 3,
        "short_chain_justification": None, "root_cause": "No start check",
        "cause_category": CAUSE, "contributing_factors": [], "submissions": 1,
        "updated_by": "dev-engineer", "updated_at": WHEN, "version": 3}))
    on("GET", f"{base}/transitions", httpx.Response(200, json=[
        {"to": to, "roles": ["manager"], "you_may": True, "ready": True, "blocked_by": None,
         "needs_reason": to == CapaStatus.investigating, "needs_lesson": to == CapaStatus.closed}
        for to in shown["allowed_transitions"]]))
    on("GET", f"{base}/actions", httpx.Response(200, json=actions))
    on("GET", f"{base}/effectiveness-verifications", httpx.Response(200, json=[
        {"id": str(uuid.UUID(int=600 + n)), "cycle": n + 1, "result": result,
         "evidence": "Data", "verified_by": "dev-verifier", "verified_at": WHEN,
         "attachments": []} for n, result in enumerate(RESULT_LABELS)]))
    on("GET", f"{base}/audit-trail", httpx.Response(200, json={"next_cursor": None, "items": [
        {"sequence": n + 1, "at": WHEN, "actor": "dev-engineer", "action": "transitioned",
         "reason": None, "before": {"status": before}, "after": {"status": after}}
        for n, (before, after) in enumerate(zip(list(CapaStatus), list(CapaStatus)[1:],
                                                strict=False))]}))
    on("GET", f"{base}/audit-trail/verify", httpx.Response(200, json={
        "valid": True, "entries": 6, "first_broken_sequence": None, "problem": None}))
    on("GET", f"{base}/signatures/verify", httpx.Response(200, json={
        "valid": True, "signatures": 0, "broken": []}))
    on("GET", "/v1/lessons", _page([_lesson(n) for n in range(2)]))
    on("GET", "/v1/actions", _page(actions))
    review = REVIEW | {"root_cause_categories": [
        {"name": c.value, "count": 6 - n, "cumulative_percent": 100.0}
        for n, c in enumerate(CauseCategory)], "nonconformity_sources": [
        {"name": s.value, "count": 1, "cumulative_percent": 100.0} for s in Source]}
    on("GET", "/v1/management-review", httpx.Response(200, json=review))
    on("GET", "/v1/reports/nonconformities-per-week", httpx.Response(200, json=WEEKLY | {
        "sources": [s.value for s in Source]}))
    on("GET", "/v1/subscriptions", _page(subs))
    on("GET", f"/v1/subscriptions/{subs[0]['id']}", httpx.Response(200, json=subs[0]))
    on("GET", "/v1/deliveries", _page([_delivery(n, s) for n, s in enumerate(DeliveryStatus)]))
    return {"my work": "/", "nc inbox": "/nonconformities", "nc new": "/nonconformities/new",
            "nc detail": f"/nonconformities/{ncs[0]['id']}", "capa board": "/capas?finished=1",
            "capa new": "/capas/new", "capa detail": f"/capas/{shown['id']}",
            "lessons": "/lessons", "dashboard": "/dashboard", "subscriptions": "/subscriptions",
            "subscription new": "/subscriptions/new",
            "subscription detail": f"/subscriptions/{subs[0]['id']}",
            "error page": f"/nonconformities/{uuid.UUID(int=999)}"}


class _VisibleText(HTMLParser):
    """The text a person reads: text nodes (not script or style), option texts, and
    the names read out instead of text (aria-label, alt, title, placeholder)."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        self.texts += [v for k, v in attrs
                       if k in ("aria-label", "alt", "title", "placeholder") and v]

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.texts.append(data)


def visible_texts(html: str) -> list[str]:
    parser = _VisibleText()
    parser.feed(html)
    return parser.texts


# A raw value shows as a piece of text of its own: a cell, a badge, the part of a line
# between separators ("Severity: major", "· minor"). Words inside a sentence ("the CAPA
# process") are English, not values.
_SEPARATORS = re.compile("[·:;,()\\[\\]/→—\u2013|•\n]")


def raw_values_in(html: str) -> list[str]:
    found = []
    for text in visible_texts(html):
        for piece in _SEPARATORS.split(text):
            word = piece.strip()
            if word in RAW or any(token in RAW and "_" in token for token in word.split()):
                found.append(f"{word!r} in {text.strip()[:80]!r}")
    return found


def test_the_check_sees_raw_values_and_leaves_sentences_alone() -> None:
    assert raw_values_in('<td>in_progress</td><span class="badge">major</span>'
                         "<p>Due 2026-01-01 · minor</p><option>materials_supplier</option>"
                         '<button aria-label="Set equipment_technology now">x</button>') == [
        "'in_progress' in 'in_progress'", "'major' in 'major'",
        "'minor' in 'Due 2026-01-01 · minor'",
        "'materials_supplier' in 'materials_supplier'",
        "'Set equipment_technology now' in 'Set equipment_technology now'"]
    assert raw_values_in("<p>How the CAPA process performs</p><td>Major</td>"
                         "<script>x = 'major'</script>") == []


@pytest.mark.parametrize("role", ["engineer", "manager"])
def test_no_page_shows_a_raw_vocabulary_value(ui: TestClient, everything: dict[str, str],
                                              role: str) -> None:
    sign_in(ui, role)
    offenders = {}
    for name, path in everything.items():
        page = ui.get(path)
        assert page.status_code == (404 if name == "error page" else 200), (name, page.text)
        if found := raw_values_in(page.text):
            offenders[name] = found
    assert offenders == {}


def test_the_cause_category_reads_the_same_on_every_page(ui: TestClient,
                                                         everything: dict[str, str]) -> None:
    """Named "Cause category", its value by its one label, wherever a page shows it:
    the CAPA's facts, the saved analysis, the lessons and their search, the review."""
    sign_in(ui, "verifier")  # the verifier reads the saved analysis, not the form
    other_spellings = re.compile(r"equipment[ _]+technology|equipment & technology", re.I)
    for name in ("capa detail", "lessons", "dashboard"):
        text = " ".join(visible_texts(ui.get(everything[name]).text))
        assert "Cause category" in text, name
        assert CAUSE_LABEL in text, name
        assert not other_spellings.search(text.replace(CAUSE_LABEL, "")), name
    capa_page = " ".join(visible_texts(ui.get(everything["capa detail"]).text))
    # Both places on the CAPA page: its facts and the saved analysis.
    assert capa_page.count(f"Cause category {CAUSE_LABEL}") >= 2 or \
        capa_page.count(CAUSE_LABEL) >= 2, capa_page


@pytest.mark.parametrize("move", ["root_cause_approval", "effectiveness_verification"])
def test_the_sign_page_shows_labels_too(move: str) -> None:
    """The page shown before a signature (it needs a provider sign-in to reach, so it
    is rendered here directly, as signing.py renders it)."""
    from types import SimpleNamespace

    from services.web.deps import templates

    capa = _capa(1, CapaStatus.verifying)
    analysis = {"submissions": 1, "problem_statement": "Smear", "root_cause": "No check",
                "whys": [{"why": "Why?", "because": "Wet"}], "cause_category": CAUSE,
                "short_chain_justification": None, "contributing_factors": []}
    page = templates.get_template("capa_sign.html").render(
        request=SimpleNamespace(url=SimpleNamespace(path=f"/capas/{capa['id']}/sign")),
        user=None, capa=capa, what="Approve", signer="Dev", subject="dev", move=move,
        meaning_label="Approval", analysis=analysis,
        body={"result": "not_effective", "evidence": "Data"}, provider="Keycloak", url="#")
    assert raw_values_in(page) == []
    text = " ".join(visible_texts(page))
    assert (CAUSE_LABEL in text) == (move == "root_cause_approval")
    assert ("Not effective" in text) == (move == "effectiveness_verification")


def test_nc_history_names_records_by_number_and_values_by_label(
        ui: TestClient, everything: dict[str, str]) -> None:
    """No UUID and no raw value in an NC's history or facts: the CAPA opened and the NC
    it duplicates by their numbers (links), the audit finding's grade by its label."""
    sign_in(ui, "engineer")
    page = ui.get(everything["nc detail"]).text
    texts = visible_texts(page)
    assert not [t for t in texts if UUID_TEXT.search(t)]
    assert raw_values_in(page) == []
    history = page.split('id="h-history"')[1]
    assert f'<td>CAPA opened</td>\n        <td>CAPA: <a href="/capas/{uuid.UUID(int=100)}">' \
        "CAPA-2026-00010</a></td>" in history
    assert f'Duplicate of: <a href="/nonconformities/{uuid.UUID(int=2)}">NC-2026-00001</a>' \
        in history
    assert "Status: Reported (not triaged) → Duplicate" in history
    assert "Reason: Audit finding" in history and "Filename: photo.png" in history
    assert "Capa" not in " ".join(texts)
    assert "IA-2026-11, clause 8.5.1 (Major nonconformity)" in page
