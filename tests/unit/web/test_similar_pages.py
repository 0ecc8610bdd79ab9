"""Similar past lessons in the UI against a fake API: the panel beside the 5-Whys
form (from the saved analysis, from the draft on "Find similar"), linking a lesson
without losing the draft, the NC page's suggestions, empty and failing answers,
and the dashboard's take-up block."""

from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from tests.unit.web.conftest import FakeApi as RouteApi
from tests.unit.web.conftest import sign_in
from tests.unit.web.fake_api import FakeApi, capa, nonconformity, similar_lesson, ui_as
from tests.unit.web.test_manager_pages import REVIEW, WEEKLY

HOSTILE = '<img src=x onerror="alert(1)">'


def _draft(**extra: str) -> list[tuple[str, str]]:
    fields = {"etag": '"0"', "problem_statement": "Checkout gateway times out",
              "root_cause": "", "cause_category": "", "contributing_factors": "",
              "short_chain_justification": ""} | extra
    return [*fields.items(), ("why", "Why does it time out?"),
            ("because", "No retry budget"), ("why", ""), ("because", "")]


def _similar_requests(fake: FakeApi) -> list[httpx.QueryParams]:
    return [r.url.params for r in fake.requests if r.url.path == "/v1/lessons/similar"]


def _panel(page: str) -> str:
    return page.split('id="similar-lessons"')[1].split("</section>")[0]


async def test_the_panel_offers_lessons_beside_the_5_whys_with_a_link_button(
        tmp_path: Path) -> None:
    fake = FakeApi()
    item = capa(status="investigating")
    fake.capas[item["id"]] = item
    lesson = similar_lesson(title=f"Gateway timeout {HOSTILE}")
    cause = similar_lesson(kind="root_cause", lesson_id=None, what_to_do_differently=None,
                           capa_number="CAPA-2026-00003", title="DNS timeouts",
                           capa_status="implementing")
    fake.similar = [lesson, cause]
    async with ui_as("engineer", fake, tmp_path) as ui:
        page = await ui.get(f"/capas/{item['id']}")
    assert page.status_code == 200
    assert _similar_requests(fake)[-1]["capa_id"] == item["id"]
    # The panel shown is what the review's take-up figure counts as offered.
    assert _similar_requests(fake)[-1]["record"] == "true"
    panel = _panel(page.text)
    assert "Similar past lessons" in panel and HOSTILE not in page.text
    assert panel.index("CAPA-2025-00007") < panel.index("CAPA-2026-00003")  # API's order
    assert "Root cause of a CAPA without a lesson yet" in panel
    # One link button, for the lesson (a root cause has no lesson to link); it submits
    # the 5-Whys form so the draft comes along.
    assert panel.count("data-link-lesson") == 1
    assert 'form="root-cause-form"' in panel and f'value="{lesson["lesson_id"]}"' in panel
    assert 'id="root-cause-form"' in page.text and "data-find-similar" in page.text


async def test_find_similar_searches_the_draft_and_saves_nothing(tmp_path: Path) -> None:
    fake = FakeApi()
    item = capa(status="investigating")
    fake.capas[item["id"]] = item
    fake.similar = [similar_lesson()]
    async with ui_as("engineer", fake, tmp_path) as ui:
        found = await ui.post(f"/capas/{item['id']}/root-cause",
                              [*_draft(), ("op", "find_similar")])
    assert found.status_code == 200
    sent = _similar_requests(fake)[-1]
    assert sent["capa_id"] == item["id"]
    assert sent["text"] == "Checkout gateway times out Why does it time out? No retry budget"
    assert "your draft as typed" in _panel(found.text)
    assert "No retry budget" in found.text.split('id="root-cause-form"')[1]  # kept
    assert fake.writes() == []


async def test_linking_keeps_the_draft_and_is_said_once_linked(tmp_path: Path) -> None:
    fake = FakeApi()
    item = capa(status="investigating")
    fake.capas[item["id"]] = item
    lesson = similar_lesson()
    fake.similar = [lesson]
    path = f"/capas/{item['id']}/lesson-links"
    async with ui_as("engineer", fake, tmp_path) as ui:
        linked = await ui.post(path, [*_draft(), ("lesson_id", lesson["lesson_id"])])
        again = await ui.post(path, [*_draft(), ("lesson_id", lesson["lesson_id"])])
        page = await ui.get(f"/capas/{item['id']}")
    assert linked.status_code == 200
    assert "The lesson of CAPA-2025-00007 is linked to this CAPA." in linked.text
    assert "Checkout gateway times out" in linked.text.split('id="root-cause-form"')[1]
    assert "already linked" in again.text
    assert fake.writes() == [("POST", f"/v1/capas/{item['id']}/lesson-links",
                              {"lesson_id": lesson["lesson_id"]})] * 2
    panel = _panel(page.text)
    assert "data-linked" in panel and "data-link-lesson" not in panel
    assert "Lessons linked to this CAPA" in panel and "(linked by test-engineer)" in panel


async def test_a_refused_link_is_a_message_and_the_draft_stays(tmp_path: Path) -> None:
    fake = FakeApi()
    item = capa(status="investigating")
    fake.capas[item["id"]] = item
    fake.similar = [similar_lesson()]
    async with ui_as("engineer", fake, tmp_path) as ui:
        refused = await ui.post(f"/capas/{item['id']}/lesson-links",
                                [*_draft(), ("lesson_id", "not-a-lesson")])
        forged = await ui.post(f"/capas/{item['id']}/lesson-links",
                               [("lesson_id", "x")], csrf=False)
    assert refused.status_code == 404
    assert "There is no such lesson learned." in refused.text
    assert "Checkout gateway times out" in refused.text
    assert forged.status_code == 403


async def test_readers_see_linked_lessons_but_get_no_suggestions(tmp_path: Path) -> None:
    fake = FakeApi()
    item = capa(status="investigating")
    fake.capas[item["id"]] = item
    lesson = similar_lesson()
    fake.similar, fake.lesson_links = [lesson], {item["id"]: [lesson["lesson_id"]]}
    async with ui_as("reporter", fake, tmp_path) as ui:
        page = await ui.get(f"/capas/{item['id']}")
    assert page.status_code == 200 and _similar_requests(fake) == []
    assert "Lessons linked to this CAPA" in page.text and "data-link-lesson" not in page.text
    assert "data-find-similar" not in page.text


async def test_no_match_and_an_unreachable_service_are_said_plainly(tmp_path: Path) -> None:
    fake = FakeApi()
    item = capa(status="investigating")
    fake.capas[item["id"]] = item
    async with ui_as("engineer", fake, tmp_path) as ui:
        empty = await ui.get(f"/capas/{item['id']}")
        assert "No past lesson or root cause shares words with this analysis yet." \
            in _panel(empty.text)

    class Down(FakeApi):
        def handle(self, request: httpx.Request) -> httpx.Response:
            if "lesson" in request.url.path:
                return httpx.Response(503, json={"title": "Unavailable", "status": 503})
            return super().handle(request)

    down = Down(capas=fake.capas)
    async with ui_as("engineer", down, tmp_path) as ui:
        broken = await ui.get(f"/capas/{item['id']}")
    assert broken.status_code == 200
    assert "Similar past lessons cannot be looked up right now" in _panel(broken.text)
    assert 'id="root-cause-form"' in broken.text


async def test_a_reported_nc_shows_the_most_similar_lessons(tmp_path: Path) -> None:
    fake = FakeApi()
    nc = nonconformity(title="Gateway timeout at checkout", description="Payments time out")
    quiet = nonconformity(title="Label misprint", description=None, category=None,
                          affected_item=None)
    fake.ncs |= {nc["id"]: nc, quiet["id"]: quiet}
    fake.similar = [similar_lesson(title=f"Gateway timeout {HOSTILE}")]
    async with ui_as("reporter", fake, tmp_path) as ui:
        page = await ui.get(f"/nonconformities/{nc['id']}")
        none = await ui.get(f"/nonconformities/{quiet['id']}")
    assert _similar_requests(fake)[0]["text"] == (
        "Gateway timeout at checkout Payments time out payments shop")
    panel = _panel(page.text)
    assert "CAPA-2025-00007" in panel and "Do differently: Budget retries" in panel
    assert HOSTILE not in page.text
    assert "No past lesson or root cause shares words with this report." in _panel(none.text)


def test_the_dashboard_shows_how_often_offered_lessons_were_linked(
        ui: TestClient, fake_api: RouteApi) -> None:
    review = REVIEW | {"lesson_suggestions": {"offered": 8, "linked": 2, "capas_offered": 3,
                                              "link_rate": 0.25}}
    fake_api.on("GET", "/v1/management-review", httpx.Response(200, json=review))
    fake_api.on("GET", "/v1/reports/nonconformities-per-week", httpx.Response(200, json=WEEKLY))
    sign_in(ui, "manager")
    page = ui.get("/dashboard").text
    block = page.split('id="lesson-suggestions"')[1].split("</section>")[0]
    assert '"lesson_suggestions_offered">8 (to 3 CAPAs)' in block
    assert '"lesson_suggestions_linked">2<' in block
    assert "25.0 % of the lessons offered were linked" in block
    empty = REVIEW | {"lesson_suggestions": {"offered": 0, "linked": 0, "capas_offered": 0,
                                             "link_rate": None}}
    fake_api.on("GET", "/v1/management-review", httpx.Response(200, json=empty))
    assert "no lessons offered in the period" in ui.get("/dashboard").text
    # An older CAPA service without the figure: no block, the rest as before.
    fake_api.on("GET", "/v1/management-review", httpx.Response(200, json=REVIEW))
    assert 'id="lesson-suggestions"' not in ui.get("/dashboard").text
