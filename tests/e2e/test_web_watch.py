"""Watch a CAPA in the web UI against the real services (deploy/run.sh: SQLite + sql
bus), with e-mail going to a real SMTP test server: the watcher's e-mail arrives
with a link to the CAPA page and an unwatch hint, a second person's watch is
neither visible nor deletable by the first, and after Unwatch nothing more
arrives. Then Chromium screenshots of the button and of "My notifications" at
desktop width and at 390 px."""

import json
import re
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.e2e.loop import poll
from tests.e2e.test_run_services import _free_port, services_running
from tests.e2e.web_stack import Ui

SHOTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts" / "watch"
DOMAIN = "example.test"


class MailBox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = BytesParser(policy=default_policy).parsebytes(envelope.content)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 Message accepted for delivery"

    def to(self, person: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == f"{person}@{DOMAIN}"]


@pytest.fixture(scope="module")
def mail() -> Iterator[MailBox]:
    box = MailBox()
    controller = Controller(box, hostname="127.0.0.1", port=_free_port())
    controller.start()
    box.port = controller.port  # type: ignore[attr-defined]
    try:
        yield box
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def ui(mail: MailBox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ui]:
    tmp = tmp_path_factory.mktemp("watch")
    # API-key people have no e-mail claim: their subject at this domain is their address.
    env = {"BUS": "sql", "NOTIFICATIONS_SMTP_HOST": "127.0.0.1",
           "NOTIFICATIONS_SMTP_PORT": str(mail.port),  # type: ignore[attr-defined]
           "NOTIFICATIONS_OWNER_EMAIL_DOMAIN": DOMAIN, "NOTIFICATIONS_OWNER_NOTICES": "false"}
    with services_running(env, tmp, web=True) as ports:
        creds = json.loads((Path(tmp) / "var" / "dev-credentials.json").read_text())
        running = Ui(ports, creds["api_keys"])
        try:
            yield running
        finally:
            running.close()


def _text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def _new_capa(ui: Ui, title: str) -> dict[str, Any]:
    return dict(ui.api.call("POST", "capa", "/v1/capas", role="engineer", json={
        "title": title, "severity": "major"}).json())


def test_a_watcher_is_emailed_each_change_until_unwatching(ui: Ui, mail: MailBox) -> None:
    engineer, verifier = ui.person("engineer"), ui.person("verifier")
    capa = _new_capa(ui, f"Seal leak {uuid.uuid4().hex[:8]}")
    page = f"/capas/{capa['id']}"
    assert f'action="{page}/watch"' in engineer.get(page).text
    for person in (engineer, verifier):
        watched = person.submit(f"{page}/watch", {})
        assert watched.status_code == 303, watched.text[:500]
    shown = engineer.get(page).text
    assert f'action="{page}/unwatch"' in shown and f"dev-engineer@{DOMAIN}" in shown

    # Someone else changes the CAPA: each watcher gets one e-mail about it.
    ui.api.call("POST", "capa", f"{page.replace('/capas', '/v1/capas')}/transitions",
                role="manager", json={"to": "investigating"})
    poll(lambda: len(mail.to("dev-engineer")) == 1 and len(mail.to("dev-verifier")) == 1,
         timeout=30, message="the watchers' e-mails")
    message = mail.to("dev-engineer")[0]
    body = _text(message)
    assert message["Subject"].startswith("CAPA status changed: " + capa["number"])
    assert f"Open: {ui.base}{page}" in body
    assert f"open {ui.base}{page} and choose Unwatch" in body
    assert f"{ui.base}/my/notifications" in body

    # The engineer's watch is theirs: the verifier can neither see nor delete it.
    mine = ui.api.call("GET", "notifications", f"/v1/watches/capas/{capa['id']}",
                       role="engineer").json()
    for method in ("GET", "DELETE"):
        ui.api.call(method, "notifications", f"/v1/subscriptions/{mine['id']}",
                    role="verifier", expect=404)
    theirs = ui.api.call("GET", "notifications", "/v1/subscriptions", role="verifier").json()
    assert mine["id"] not in {s["id"] for s in theirs["items"]}
    assert mine["id"] not in verifier.get("/my/notifications").text

    # After Unwatch, the next change reaches the verifier only.
    assert engineer.submit(f"{page}/unwatch", {}).status_code == 303
    ui.api.call("POST", "capa", f"/v1/capas/{capa['id']}/transitions", role="manager",
                json={"to": "cancelled", "reason": "Duplicate of another CAPA"})
    poll(lambda: any(m["Subject"].startswith("CAPA cancelled")
                     for m in mail.to("dev-verifier")), timeout=30,
         message="the verifier's e-mail of the cancellation")
    # The same events' e-mails to the engineer would have been queued with the
    # verifier's (one statement per event): there were none to queue.
    assert len(mail.to("dev-engineer")) == 1


def test_screenshots_of_the_watch_button_and_my_notifications(ui: Ui) -> None:
    from playwright.sync_api import expect

    from tests.e2e.browser import Screenshots, chromium

    capa = _new_capa(ui, "Pump P-7 seal leaks at 80 C")
    shots = Screenshots(SHOTS)
    with chromium() as browser:
        for width, height, suffix in ((1280, 900, "desktop"), (390, 844, "390px")):
            context = browser.new_context(base_url=ui.base,
                                          viewport={"width": width, "height": height})
            context.set_default_timeout(15_000)
            page = context.new_page()
            page.goto(f"/capas/{capa['id']}")
            page.get_by_label("API key").fill(ui.keys["admin"])
            page.get_by_role("button", name="Sign in").click()
            page.get_by_role("button", name="Watch", exact=True).click()
            expect(page.get_by_role("button", name="Unwatch", exact=True)).to_be_visible()
            expect(page.locator(".flashes")).to_be_focused()  # the answer, not the body
            # The top of the page (where the button is), not the whole CAPA page.
            top = shots.folder / f"{len(shots.taken) + 1:02d}-watch-capa-{suffix}.png"
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=str(top))
            shots.taken.append(top)
            page.get_by_role("link", name="My notifications").first.click()
            expect(page.get_by_role("heading", name="My notifications")).to_be_visible()
            expect(page.locator("#watches")).to_contain_text(f"You watch {capa['number']}")
            assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-", page.locator("main").inner_text())
            shots.take(page, f"my-notifications-{suffix}")
            assert page.evaluate("document.documentElement.scrollWidth") <= width + 1
            # Leave it as found for the other width: unwatch from the settings page.
            page.get_by_role("button", name=re.compile("^Unwatch")).click()
            expect(page.locator("#watches")).to_contain_text("You watch nothing yet")
            context.close()
    assert len(shots.taken) == 4 and all(p.stat().st_size > 10_000 for p in shots.taken)
