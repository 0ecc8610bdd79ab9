"""Where the keyboard focus lands after a round trip (QA: it fell back to the page
body). static/ui.js focuses, in this order: an ``autofocus`` field, the first field a
refused form marks invalid, the heading of the section the address names
(``#similar-lessons``, ``#root-cause``), else the flash message. These tests check the
markup it relies on: the headings and the flashes take focus (tabindex="-1")."""

import re
from pathlib import Path

from tests.unit.web.fake_api import FakeApi, capa, root_cause, similar_lesson, ui_as
from tests.unit.web.fake_watches import FakeWatches

UI_JS = Path(__file__).parents[3] / "services/web/static/ui.js"


def _heading_of(page: str, section_id: str) -> str:
    section = page.split(f'id="{section_id}"', 1)[1]
    found = re.search(r"<h[23][^>]*>", section)
    assert found, section[:500]
    return found.group(0)


def test_the_script_focuses_autofocus_invalid_fields_the_named_section_then_the_flash(
        ) -> None:
    script = UI_JS.read_text()
    steps = ['querySelector("[autofocus]")', "[aria-invalid='true']", "location.hash",
             'querySelector(".flashes")']
    assert all(step in script for step in steps)


async def test_the_flash_after_watch_and_unwatch_takes_the_focus(tmp_path: Path) -> None:
    fake = FakeApi()
    FakeWatches(fake)
    item = capa(number="CAPA-2026-00012", title="Seal leak")
    fake.capas[item["id"]] = item
    path = f"/capas/{item['id']}"
    async with ui_as("engineer", fake, tmp_path) as ui:
        for action in ("watch", "unwatch"):
            await ui.post(f"{path}/{action}", {})
            page = (await ui.get(path)).text
            assert '<div class="flashes" role="status" tabindex="-1">' in page, action


async def test_after_linking_a_lesson_the_similar_lessons_heading_takes_the_focus(
        tmp_path: Path) -> None:
    fake = FakeApi()
    item = capa(status="investigating")
    fake.capas[item["id"]] = item
    lesson = similar_lesson()
    fake.similar = [lesson]
    async with ui_as("engineer", fake, tmp_path) as ui:
        form = [("etag", '"0"'), ("problem_statement", "Gateway times out"),
                ("why", "Why?"), ("because", "No retry"), ("lesson_id", lesson["lesson_id"])]
        linked = (await ui.post(f"/capas/{item['id']}/lesson-links", form)).text
    assert 'tabindex="-1"' in _heading_of(linked, "similar-lessons")


async def test_after_revise_the_root_cause_heading_takes_the_focus(tmp_path: Path) -> None:
    fake = FakeApi()
    item = capa(status="investigating")
    fake.capas[item["id"]] = item
    fake.analyses[item["id"]] = root_cause(status="submitted", submissions=1)
    async with ui_as("engineer", fake, tmp_path) as ui:
        page = (await ui.get(f"/capas/{item['id']}", revise="1")).text
    assert _heading_of(page, "root-cause") == '<h2 id="h-root-cause" tabindex="-1">'
