"""Phones and keyboards (issue 16 part 6), on the real services (deploy/run.sh:
SQLite + sql bus) with data in every page:

- every page of the UI at desktop width and at 390 px passes axe-core (no
  serious or critical violation) and does not scroll sideways at 390 px;
- the keyboard: a skip link first, every control reachable by Tab and visibly
  focused, focus kept in place when a why row is added or removed (with and
  without JavaScript).

A page added to the UI is one line in ``PAGES``. Screenshots of every page go to
var/test-artifacts/a11y/.
"""

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.a11y import Finding, findings, report
from tests.e2e.browser import Screenshots, chromium
from tests.e2e.loop import Loop, poll
from tests.e2e.test_web_my_work import to_verifying
from tests.e2e.web_stack import Ui, shared_ui

SHOTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts" / "a11y"
WIDTHS = {"desktop": (1280, 900), "390px": (390, 844)}


@dataclass
class Seeded:
    """The ids of the records the pages show (one per stage where it matters)."""

    nc: str
    capas: dict[str, str]  # stage -> CAPA id
    subscription: str
    objective: str = ""
    meeting: str = ""  # a recorded management review whose decision opened a CAPA


@dataclass(frozen=True)
class PageVisit:
    name: str
    role: str | None  # None: not signed in
    path: Callable[[Seeded], str] | str
    # Something to do on the page first (open a form that only a post shows).
    then: Callable[[Page], None] | None = None

    def url(self, seeded: Seeded) -> str:
        return self.path if isinstance(self.path, str) else self.path(seeded)


def _bulk(page: Page) -> None:
    """The bulk result page: two rows ticked, "Assign to me"."""
    boxes = page.locator('input[name="nc"]')
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.locator("#f-bulk-action").select_option("assign_me")
    page.get_by_role("button", name="Apply to selected").click()
    expect(page.locator("[data-outcome]").first).to_be_visible()


def _scorecards(page: Page) -> None:
    """Every figure of a scorecard on screen: the table never scrolls inside its
    wrapper (at 390 px it is one card per supplier) and its caption is whole."""
    expect(page.locator("table.cards caption")).to_contain_text("both days included")
    hidden = page.evaluate("""() => [...document.querySelectorAll(
        '.table-scroll, table.cards caption')].filter(e => e.scrollWidth > e.clientWidth + 1)
        .map(e => e.tagName + ' ' + e.scrollWidth + '>' + e.clientWidth)""")
    assert hidden == [], hidden


def _capa(stage: str) -> Callable[[Seeded], str]:
    return lambda s: f"/capas/{s.capas[stage]}"


# Every page of the UI, as the person who uses it sees it.
PAGES = [
    PageVisit("sign in", None, "/sign-in"),
    PageVisit("my work (engineer)", "engineer", "/"),
    PageVisit("my work (manager)", "manager", "/"),
    PageVisit("nc inbox", "engineer", "/nonconformities"),
    PageVisit("nc new", "reporter", "/nonconformities/new"),
    PageVisit("nc detail", "engineer", lambda s: f"/nonconformities/{s.nc}"),
    PageVisit("nc bulk result", "engineer", "/nonconformities", then=_bulk),
    PageVisit("capa board", "engineer", "/capas?finished=1"),
    PageVisit("capa new", "engineer", "/capas/new"),
    PageVisit("capa open", "engineer", _capa("open")),
    PageVisit("capa root cause (draft)", "engineer", _capa("investigating")),
    PageVisit("capa actions", "engineer", _capa("implementing")),
    PageVisit("capa verifying", "verifier", _capa("verifying")),
    PageVisit("capa closed with lesson", "manager", _capa("closed")),
    PageVisit("capa opened by a review decision", "engineer", _capa("from review")),
    PageVisit("lessons", "engineer", "/lessons"),
    PageVisit("dashboard", "manager", "/dashboard"),
    PageVisit("actions (overdue)", "manager", "/actions?overdue=true"),
    PageVisit("my notifications", "engineer", "/my/notifications"),
    PageVisit("review pack", "manager", "/review-pack"),
    PageVisit("objectives", "manager", "/objectives"),
    PageVisit("objective edit", "manager", lambda s: f"/objectives/{s.objective}"),
    PageVisit("review meeting", "engineer", lambda s: f"/review-meetings/{s.meeting}"),
    PageVisit("supplier scorecards", "manager", "/suppliers/scorecards", then=_scorecards),
    PageVisit("subscriptions", "manager", "/subscriptions"),
    PageVisit("subscription new", "manager", "/subscriptions/new"),
    PageVisit("subscription detail", "manager", lambda s: f"/subscriptions/{s.subscription}"),
    PageVisit("supplier register", "reporter", "/suppliers"),
    PageVisit("supplier detail (reporter)", "reporter", "/suppliers/acme-seals"),
    PageVisit("supplier detail (manager)", "manager", "/suppliers/acme-seals"),
    PageVisit("supplier edit", "manager", "/suppliers/acme-seals/edit"),
    PageVisit("supplier new (needs the manager role)", "reporter", "/suppliers/new"),
    PageVisit("error page", "engineer", f"/nonconformities/{uuid.UUID(int=7)}"),
]


@pytest.fixture(scope="module")
def ui(default_web_stack: Ui) -> Iterator[Ui]:
    # The session's shared stack (tests/e2e/web_stack.py): records of other
    # files are there too, so this file looks only at its own.
    yield from shared_ui(default_web_stack)


def _report(api: Loop, title: str, **fields: Any) -> dict[str, Any]:
    body = {"title": title, "severity": "minor", "source": "support"} | fields
    return dict(api.call("POST", "nonconformity", "/v1/nonconformities", role="reporter",
                         json=body).json())


def _new_capa(api: Loop, title: str) -> str:
    return str(api.call("POST", "capa", "/v1/capas", role="engineer", json={
        "title": title, "severity": "major", "owner": "dev-engineer"}).json()["id"])


def _move(api: Loop, capa_id: str, to: str, role: str = "engineer", **extra: Any) -> None:
    api.call("POST", "capa", f"/v1/capas/{capa_id}/transitions", role=role,
             json={"to": to, "reason": f"moving to {to}"} | extra)


@pytest.fixture(scope="module")
def seeded(ui: Ui) -> Seeded:
    api = ui.api
    marker = uuid.uuid4().hex[:6]
    sources = ["support", "monitoring", "audit", "customer", "supplier", "internal"]
    ncs = [_report(api, f"Label printer jams on line {n} — a long title that wraps {marker}",
                   severity=severity, source=sources[n % len(sources)],
                   external_ref=f"ZD-{marker}{n}", tags=["labels", f"line-{n}"])
           for n, severity in enumerate(["critical", "major", "minor", "observation", "minor"])]
    nc_path = f"/v1/nonconformities/{ncs[1]['id']}"
    etag = api.call("GET", "nonconformity", nc_path, role="engineer").headers["etag"]
    api.call("POST", "nonconformity", f"{nc_path}/triage", role="engineer",
             headers={"If-Match": etag},
             json={"decision": "accept", "reason": "Reproduced", "owner": "dev-engineer"})

    capas = {"open": _new_capa(api, f"Seal leak on pump 3 {marker}")}
    investigating = capas["investigating"] = _new_capa(api, f"Wrong labels shipped {marker}")
    _move(api, investigating, "investigating")
    etag = api.call("GET", "capa", f"/v1/capas/{investigating}/root-cause",
                    role="engineer").headers["etag"]
    api.call("PUT", "capa", f"/v1/capas/{investigating}/root-cause", role="engineer",
             headers={"If-Match": etag}, json={
                 "status": "draft", "problem_statement": "Labels of lot A went to lot B",
                 "whys": [{"why": "Why wrong labels?", "because": "The template was stale"},
                          {"why": "Why stale?", "because": "No one owns the templates"},
                          {"why": "Why no owner?", "because": "Not in the RACI"}],
                 "root_cause": None, "cause_category": "process", "contributing_factors": []})

    implementing = capas["implementing"] = _new_capa(api, f"Scanner timeouts {marker}")
    to_verifying(api, implementing)  # the quickest way to a submitted analysis ...
    capas["verifying"] = implementing
    implementing = capas["implementing"] = _new_capa(api, f"Pallet wrap tears {marker}")
    _move(api, implementing, "investigating")
    etag = api.call("GET", "capa", f"/v1/capas/{implementing}/root-cause",
                    role="engineer").headers["etag"]
    api.call("PUT", "capa", f"/v1/capas/{implementing}/root-cause", role="engineer",
             headers={"If-Match": etag}, json={
                 "status": "submitted", "problem_statement": "Wrap tears at corners",
                 "whys": [{"why": "Why tears?", "because": "Film too thin"},
                          {"why": "Why thin?", "because": "Cheaper film ordered"},
                          {"why": "Why ordered?", "because": "No spec on the PO"}],
                 "root_cause": "Purchase orders carry no film spec",
                 "cause_category": "materials_supplier", "contributing_factors": []})
    _move(api, implementing, "action_planned")
    due = (date.today() + timedelta(days=20)).isoformat()
    for kind, text in (("corrective", "Put the film spec on every PO"),
                       ("preventive", "Review all packaging POs for specs")):
        api.call("POST", "capa", f"/v1/capas/{implementing}/actions", role="engineer", json={
            "kind": kind, "description": text, "owner": "dev-engineer", "due_date": due})
    _move(api, implementing, "implementing")

    closed = capas["closed"] = _new_capa(api, f"Dryer left off {marker}")
    to_verifying(api, closed)
    api.call("PUT", "capa", f"/v1/capas/{closed}/effectiveness-plan", role="engineer",
             json={"criteria": "No smear for 14 days",
                   "check_date": datetime.now(UTC).date().isoformat()})
    api.call("POST", "capa", f"/v1/capas/{closed}/effectiveness-verifications", role="verifier",
             json={"result": "effective", "evidence": "14 days, no smear"})
    _move(api, closed, "closed", role="manager", lesson={
        "what_to_do_differently": "Start checklists name every dryer", "tags": ["print"]})
    # This CAPA's own lesson: the shared stack may hold other files' lessons already.
    poll(lambda: any(lesson["capa_id"] == closed for lesson in api.call(
        "GET", "capa", "/v1/lessons", role="engineer").json()["items"]),
         message="the lesson published")

    # An objective for the dashboard panel and /objectives (their cards at 390 px).
    objective = api.call("POST", "capa", "/v1/objectives", role="manager", json={
        "title": f"No CAPA overdue by the end of the quarter {marker}",
        "metric": "overdue_capas", "target": 0,
        "deadline": (date.today() + timedelta(days=90)).isoformat()}).json()
    pack = api.call("GET", "capa", "/v1/management-review/pack", role="manager").json()
    meeting = api.call("POST", "capa", "/v1/management-reviews", role="manager", json={
        "held_on": date.today().isoformat(), "attendees": ["quality-manager"],
        "pack": {"since": pack["period"]["since"], "until": pack["period"]["until"],
                 "sha256": pack["sha256"]},
        "decisions": [{"text": f"Open a CAPA on repeat seal leaks {marker}",
                       "owner": "dev-engineer", "due_date": due, "follow_up": {
                           "opens": "capa", "severity": "major",
                           "title": f"Repeat seal leaks {marker}"}}]}).json()
    capas["from review"] = meeting["decisions"][0]["capa_id"]
    # A registered supplier, so the scorecards page shows its table (cards at 390 px).
    api.call("POST", "capa", "/v1/suppliers", role="manager", json={
        "code": f"acme-{marker}", "name": "Acme Seals and Gaskets Manufacturing GmbH",
        "criticality": "high"})
    sub = api.call("POST", "notifications", "/v1/subscriptions", role="manager", json={
        "channel": "email", "target": "quality@example.com", "description": "CAPA updates",
        "filter": {"event_types": ["capaflow.capa.*"]}}).json()
    # A registered supplier with an NC naming it (its page lists it).
    api.call("POST", "capa", "/v1/suppliers", role="manager", json={
        "code": "acme-seals", "name": "Acme Seals GmbH", "criticality": "high",
        "supplies": "Gaskets and O-rings",
        "contacts": [{"name": "Jana Novak", "email": "jana@acme.example"}]})
    _report(api, f"Gasket hardens at 80 C {marker}", supplier_code="acme-seals")
    return Seeded(nc=ncs[0]["id"], capas=capas, subscription=sub["id"],
                  objective=objective["id"], meeting=meeting["id"])


@pytest.fixture(scope="module")
def browser(ui: Ui) -> Iterator[Browser]:
    # `ui` first: its setup must not run inside Playwright's event loop.
    with chromium() as running:
        yield running


class People:
    """One signed-in browser context per role at one window size."""

    def __init__(self, browser: Browser, ui: Ui, width: int, height: int,
                 javascript: bool = True) -> None:
        self.browser, self.ui = browser, ui
        self.viewport = {"width": width, "height": height}
        self.javascript = javascript
        self.contexts: dict[str | None, BrowserContext] = {}

    def page(self, role: str | None) -> Page:
        if role not in self.contexts:
            context = self.browser.new_context(base_url=self.ui.base, viewport=self.viewport,
                                               java_script_enabled=self.javascript)
            context.set_default_timeout(15_000)
            self.contexts[role] = context
            if role is not None:
                page = context.new_page()
                page.goto("/sign-in")
                page.get_by_label("API key").fill(self.ui.keys[role])
                page.get_by_role("button", name="Sign in").click()
                expect(page.get_by_role("heading", level=1)).to_be_visible()
                page.close()
        return self.contexts[role].new_page()

    def close(self) -> None:
        for context in self.contexts.values():
            context.close()


def test_every_page_passes_axe_and_fits_390px(ui: Ui, seeded: Seeded, browser: Browser) -> None:
    shots = Screenshots(SHOTS)
    found: list[Finding] = []
    too_wide: list[str] = []
    for size, (width, height) in WIDTHS.items():
        people = People(browser, ui, width, height)
        try:
            for visit in PAGES:
                page = people.page(visit.role)
                answer = page.goto(visit.url(seeded))
                assert answer is not None
                if visit.name == "error page":
                    assert answer.status == 404
                elif "needs the manager role" in visit.name:
                    assert answer.status == 403  # the page says so, with no form
                else:
                    assert answer.ok, (visit.name, answer.status)
                if visit.then:
                    visit.then(page)
                found += findings(page, f"{visit.name} [{size}]")
                scroll_width = page.evaluate("document.documentElement.scrollWidth")
                if scroll_width > width:
                    too_wide.append(f"{visit.name} [{size}]: {scroll_width} px wide")
                # Inside a scrolling wrapper a page can be narrow and still hide columns
                # (the objectives' trend and status did): their cards keep every cell on screen.
                off = page.evaluate("""(w) => [...document.querySelectorAll(
                    '.objective-table td, .objective-table th')].filter(
                    c => c.getBoundingClientRect().right > w).length""", width)
                if off:
                    too_wide.append(f"{visit.name} [{size}]: {off} objective cells off-screen")
                shots.take(page, f"{visit.name}-{size}")
                if visit.name == "capa root cause (draft)":
                    # The form alone, for docs/ui.md ("Phones and keyboards").
                    page.locator("#root-cause").screenshot(
                        path=str(SHOTS / f"five-whys-{size}.png"))
                page.close()
        finally:
            people.close()
    assert not found, report(found)
    assert not too_wide, "pages that scroll sideways:\n" + "\n".join(too_wide)
    assert len(shots.taken) == 2 * len(PAGES)


# -- the keyboard ---------------------------------------------------------------------

def _active(page: Page) -> dict[str, Any]:
    return dict(page.evaluate("""() => {
        const el = document.activeElement;
        const style = getComputedStyle(el);
        return {tag: el.tagName.toLowerCase(), id: el.id, text: (el.textContent || "").trim(),
                name: el.getAttribute("name"), value: el.value,
                outline: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2};
    }"""))


def test_skip_link_leads_to_the_content(ui: Ui, seeded: Seeded, browser: Browser) -> None:
    people = People(browser, ui, *WIDTHS["390px"])
    try:
        page = people.page("engineer")
        page.goto("/nonconformities")
        page.keyboard.press("Tab")
        first = _active(page)
        assert first["tag"] == "a" and first["text"] == "Skip to content" and first["outline"]
        expect(page.locator("a.skip")).to_be_in_viewport()
        page.keyboard.press("Enter")
        assert _active(page)["id"] == "main"
        # The next Tab goes on inside the content, not back to the navigation.
        page.keyboard.press("Tab")
        assert page.evaluate("document.getElementById('main').contains(document.activeElement)")
    finally:
        people.close()


# The elements a keyboard user must be able to reach on a page, each numbered
# (data-want) so the Tab walk can say which it reached.
_CONTROLS = """() => Array.from(document.querySelectorAll(
    'a[href], button, input:not([type=hidden]), select, textarea, summary'))
  .filter((el) => !el.disabled && el.getClientRects().length > 0
          && getComputedStyle(el).visibility !== 'hidden'
          && !el.closest('details:not([open]) > :not(summary)'))
  .map((el, i) => { el.dataset.want = String(i); return el.outerHTML.slice(0, 100); })"""
_FOCUSED = """() => { const el = document.activeElement;
  return el === document.body ? null : {want: el.dataset.want ?? null,
                                        html: el.outerHTML.slice(0, 100)}; }"""


# The pages with the most kinds of controls (menus, date fields, file inputs, details,
# sort links, focusable scroll regions); every page would take minutes of Tab presses.
TABBED = ("sign in", "nc inbox", "nc detail", "capa board", "capa root cause (draft)",
          "capa actions", "dashboard", "subscription detail")


@pytest.mark.parametrize("visit", [v for v in PAGES if v.name in TABBED], ids=lambda v: v.name)
def test_every_control_is_reached_by_tab_and_visibly_focused(
        ui: Ui, seeded: Seeded, browser: Browser, visit: PageVisit) -> None:
    people = People(browser, ui, *WIDTHS["desktop"])
    try:
        page = people.page(visit.role)
        reached: set[str] = set()
        unfocused: list[str] = []
        # Forward from where the page puts the focus; when that is a field with
        # autofocus (sign-in), in the middle of the page, also backward from there.
        for key in ("Tab", "Shift+Tab"):
            page.goto(visit.url(seeded))
            wanted = page.evaluate(_CONTROLS)
            first = page.evaluate(_FOCUSED)
            if first is None and key == "Shift+Tab":
                break
            if first and first["want"] is not None:
                reached.add(first["want"])
            # On until the focus leaves the page (body again), with a bound for a
            # page that traps the focus.
            for _ in range(len(wanted) + 20):
                page.keyboard.press(key)
                focused = page.evaluate(_FOCUSED)
                if focused is None:
                    break
                if focused["want"] is not None:
                    reached.add(focused["want"])
                if not _active(page)["outline"]:
                    unfocused.append(focused["html"])
        missed = [html for i, html in enumerate(wanted) if str(i) not in reached]
        assert not missed, f"{visit.name}: not reached by Tab: {missed}"
        assert not unfocused, f"{visit.name}: focus not visible on {unfocused}"
    finally:
        people.close()


@pytest.mark.parametrize("javascript", [True, False], ids=["script", "no-script"])
def test_focus_stays_in_place_when_why_rows_come_and_go(
        ui: Ui, seeded: Seeded, browser: Browser, javascript: bool) -> None:
    people = People(browser, ui, *WIDTHS["390px"], javascript=javascript)
    try:
        page = people.page("engineer")
        page.goto(f"/capas/{seeded.capas['investigating']}")
        rca = page.get_by_role("form", name="Root-cause analysis")
        rows = rca.locator("[data-why-row]")
        expect(rows).to_have_count(3)

        # "Add a why": the new row's first field has the focus.
        rca.get_by_role("button", name="Add a why").focus()
        page.keyboard.press("Enter")
        expect(rows).to_have_count(4)
        expect(rca.get_by_label("Why 4", exact=True)).to_be_focused()
        page.keyboard.type("Why is the RACI silent?")

        # "Remove" row 2: the row that took its place (the former third) has the focus.
        rca.get_by_role("button", name="Remove why 2").focus()
        page.keyboard.press("Enter")
        expect(rows).to_have_count(3)
        expect(rca.get_by_label("Why 2", exact=True)).to_be_focused()
        expect(rca.get_by_label("Why 2", exact=True)).to_have_value("Why no owner?")

        # "Remove" the last row: no next row, so the "Add a why" button.
        rca.get_by_role("button", name="Remove why 3").focus()
        page.keyboard.press("Enter")
        expect(rows).to_have_count(2)
        expect(rca.get_by_role("button", name="Add a why")).to_be_focused()
        # At 390 px each field of a row is as wide as the row (stacked, label above).
        boxes = [rca.get_by_label(label, exact=True).bounding_box()
                 for label in ("Why 1", "Because 1")]
        assert all(b is not None and b["width"] >= 280 for b in boxes), boxes
        assert boxes[0] and boxes[1] and boxes[1]["y"] > boxes[0]["y"]
    finally:
        people.close()
