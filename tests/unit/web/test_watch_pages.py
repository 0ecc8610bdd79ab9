"""Watch / Unwatch on the CAPA and NC pages and the "My notifications" page, against
the fake APIs: every person may watch for themselves, the address is never a form
field, a person without one is told so, and the settings page speaks plain words."""

import html
import re
from pathlib import Path

import pytest

from services.web.pages.notice_words import event_kind, what
from tests.unit.web.fake_api import ROLES, FakeApi, capa, nonconformity, ui_as
from tests.unit.web.fake_watches import FakeWatches

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _visible(page: str) -> str:
    """The text a person reads: no tags, attributes or hidden fields."""
    main = page.split('<main id="main"', 1)[1]
    return html.unescape(re.sub(r"<[^>]+>", " ", main))


def _watch_form(page: str) -> str:
    found = re.search(r'<form class="actions-row watch".*?</form>', page, re.S)
    assert found, page[:3000]
    return found.group(0)


def _setup() -> tuple[FakeApi, FakeWatches, dict[str, object]]:
    fake = FakeApi()
    watches = FakeWatches(fake)
    item = capa(number="CAPA-2026-00012", title="Seal leak")
    fake.capas[item["id"]] = item
    return fake, watches, item


@pytest.mark.parametrize("role", ROLES)
async def test_every_person_watches_and_unwatches_a_capa(tmp_path: Path, role: str) -> None:
    fake, watches, item = _setup()
    path = f"/capas/{item['id']}"
    async with ui_as(role, fake, tmp_path) as ui:
        form = _watch_form((await ui.get(path)).text)
        assert f'action="{path}/watch"' in form and ">Watch</button>" in form
        done = await ui.post(f"{path}/watch", {})
        assert done.status_code == 303 and done.headers["location"] == path
        page = await ui.get(path)
        assert ">Unwatch</button>" in _watch_form(page.text)
        assert f"e-mails go to test-{role}@corp.example" in page.text
        put = [r for r in fake.requests if r.method == "PUT"]
        assert [r.url.path for r in put] == [f"/v1/watches/capas/{item['id']}"]
        # The body names the record for the settings page; never an address or owner.
        assert put[0].content == b'{"label":"CAPA-2026-00012 Seal leak"}'
        await ui.post(f"{path}/unwatch", {})
        assert ">Watch</button>" in _watch_form((await ui.get(path)).text)
    assert watches.subs == {}


async def test_a_posted_address_or_owner_is_not_sent_on(tmp_path: Path) -> None:
    fake, watches, item = _setup()
    async with ui_as("manager", fake, tmp_path) as ui:
        await ui.post(f"/capas/{item['id']}/watch", {"target": "stranger@example.com",
                                                     "owner": "test-reporter"})
    (sub,) = watches.subs.values()
    assert sub["owner"] == "test-manager" and sub["target"] == "test-manager@corp.example"
    assert b"stranger" not in b"".join(r.content for r in fake.requests)


async def test_without_csrf_nothing_is_watched(tmp_path: Path) -> None:
    fake, watches, item = _setup()
    async with ui_as("engineer", fake, tmp_path) as ui:
        refused = await ui.post(f"/capas/{item['id']}/watch", {}, csrf=False)
    assert refused.status_code == 403 and watches.subs == {}


async def test_a_person_without_an_address_is_told_so(tmp_path: Path) -> None:
    fake, watches, item = _setup()
    watches.no_email.add("reporter")
    path = f"/capas/{item['id']}"
    async with ui_as("reporter", fake, tmp_path) as ui:
        await ui.post(f"{path}/watch", {})
        page = await ui.get(path)
    assert "Not watching: Your sign-in (test-reporter) carries no e-mail address" in page.text
    assert ">Watch</button>" in _watch_form(page.text) and watches.subs == {}


async def test_an_nc_is_watched_from_its_page(tmp_path: Path) -> None:
    fake = FakeApi()
    watches = FakeWatches(fake)
    nc = nonconformity(number="NC-2026-00007", title="Label misprint")
    fake.ncs[nc["id"]] = nc
    path = f"/nonconformities/{nc['id']}"
    async with ui_as("verifier", fake, tmp_path) as ui:
        assert f'action="{path}/watch"' in _watch_form((await ui.get(path)).text)
        await ui.post(f"{path}/watch", {})
        assert ">Unwatch</button>" in _watch_form((await ui.get(path)).text)
    (sub,) = watches.subs.values()
    assert sub["description"] == "NC-2026-00007 Label misprint"
    assert sub["watch"]["record"] == "nonconformity"


async def test_the_record_page_stays_whole_when_notifications_are_down(tmp_path: Path) -> None:
    fake, watches, item = _setup()
    watches.down = True
    async with ui_as("engineer", fake, tmp_path) as ui:
        page = await ui.get(f"/capas/{item['id']}")
    assert page.status_code == 200 and "CAPA-2026-00012" in page.text
    assert 'class="actions-row watch"' not in page.text


async def test_my_notifications_in_plain_words_with_mode_and_unwatch(tmp_path: Path) -> None:
    fake, watches, item = _setup()
    path = f"/capas/{item['id']}"
    async with ui_as("engineer", fake, tmp_path) as ui:
        await ui.post(f"{path}/watch", {})
        watches.ordinary("test-engineer")
        watches.ordinary("test-manager", target="https://other.example/hook")
        page = await ui.get("/my/notifications")
        assert page.status_code == 200
        text = " ".join(_visible(page.text).split())
        assert ("You watch CAPA-2026-00012 Seal leak — every change, by e-mail to "
                "test-engineer@corp.example, right away.") in text
        assert ("CAPA events of severity major or worse, to a webhook "
                "(https://erp.example/hook), right away.") in text
        assert "other.example" not in text  # someone else's
        assert not UUID.search(text) and "capaflow." not in text and "*" not in text
        assert f'href="{path}"' in page.text
        assert 'href="/my/notifications" aria-current="page"' in page.text
        (watch_id,) = [s["id"] for s in watches.subs.values() if s["watch"]]
        saved = await ui.post(f"/my/notifications/{watch_id}/mode", {"mode": "daily"})
        assert saved.status_code == 303
        assert "in a daily digest." in _visible((await ui.get("/my/notifications")).text)
        assert "a daily digest of its changes" in _watch_form((await ui.get(path)).text)
        bad = await ui.post(f"/my/notifications/{watch_id}/mode", {"mode": "hourly"})
        assert bad.status_code == 303 and watches.subs[watch_id]["mode"] == "daily"
        await ui.post(f"/my/notifications/{watch_id}/unwatch", {})
        assert watch_id not in watches.subs
        assert "You watch nothing yet" in (await ui.get("/my/notifications")).text


async def test_someone_elses_subscription_cannot_be_changed_from_the_page(
        tmp_path: Path) -> None:
    fake, watches, _ = _setup()
    theirs = watches.ordinary("test-manager")
    async with ui_as("engineer", fake, tmp_path) as ui:
        answer = await ui.post(f"/my/notifications/{theirs['id']}/unwatch", {})
        assert answer.status_code == 404
        assert (await ui.post("/my/notifications/not-an-id/unwatch", {})).status_code == 404
    assert theirs["id"] in watches.subs


@pytest.mark.parametrize("pattern, words", [
    ("capaflow.capa.*", "CAPA events"), ("capaflow.nonconformity.*", "nonconformity events"),
    ("capaflow.capa.closed.v1", "CAPA closed"), ("capaflow.lesson.published.v1",
                                                 "lesson published"),
    ("*.escalated.v1", "some kinds of events"), ("capaflow.capa.*due*", "some kinds of events"),
])
def test_event_patterns_in_plain_words(pattern: str, words: str) -> None:
    assert event_kind(pattern) == words


def test_a_filter_in_plain_words() -> None:
    assert what({}) == "all events"
    assert what({"event_types": ["capaflow.nonconformity.*"], "sources": ["support", "audit"],
                 "tags": ["pump"]}) == "nonconformity events from support or audit tagged pump"
