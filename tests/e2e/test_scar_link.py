"""A SCAR end to end on the real parts: the CAPA service and the web UI as
processes on Kafka + PostgreSQL, a real SMTP server. The e-mail arrives with the
link; following it asks to confirm, and confirming opens the supplier's form in
the UI (a POST without the confirm page's nonce opens nothing); the supplier
answers in Chromium (desktop and a 390 px phone, screenshots kept), attaching and
removing a draft file; the engineer sees the response; and the ``scar.*`` events
on Kafka carry no token."""

import asyncio
import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from aiosmtpd.controller import Controller
from playwright.sync_api import expect

from tests import evidence_samples as samples
from tests.conftest import ROOT, require_kafka
from tests.e2e.browser import Screenshots, chromium
from tests.e2e.loop import poll
from tests.e2e.processes import ServiceProcess, migrate, one_of_each
from tests.e2e.test_run_services import _free_port
from tests.integration.capa.scar_harness import MailBox

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
SHOTS = ROOT / "var" / "test-artifacts" / "supplier-response"
DOCS_SHOTS = ROOT / "docs" / "screenshots"
NONCE = re.compile(r'name="nonce" value="([^"]+)"')
LINK = re.compile(r"(http://127\.0\.0\.1:\d+)/supplier-response/([A-Za-z0-9_-]{43})")


@dataclass
class Desk:
    capa: ServiceProcess
    web: ServiceProcess
    keys: dict[str, str]
    namespace: str
    box: MailBox

    def call(self, method: str, path: str, role: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(method, f"http://127.0.0.1:{self.capa.port}{path}",
                             headers={"Authorization": f"Bearer {self.keys[role]}"},
                             timeout=30, **kwargs)

    def link_of(self, count: int) -> tuple[str, str]:
        """The base and token of the link in the ``count``-th e-mail."""
        poll(lambda: len(self.box.messages) >= count, timeout=30, message="the SCAR e-mail")
        message: EmailMessage = self.box.messages[count - 1]
        body = message.get_body(("plain",))
        assert body is not None
        found = LINK.search(body.get_content())
        assert found, body.get_content()
        return found.group(1), found.group(2)


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    tmp = tmp_path_factory.mktemp("scar")
    box = MailBox()
    smtp = Controller(box, hostname="127.0.0.1", port=_free_port())
    smtp.start()
    web_port = _free_port()
    extra = {"CAPA_SMTP_HOST": "127.0.0.1", "CAPA_SMTP_PORT": str(smtp.port),
             "CAPA_UI_BASE_URL": f"http://127.0.0.1:{web_port}"}
    try:
        with one_of_each(tmp, "scar", extra_env=extra) as (processes, creds, namespace):
            env = processes["capa"].env | {
                "WEB_CAPA_URL": f"http://127.0.0.1:{processes['capa'].port}",
                "WEB_NONCONFORMITY_URL": f"http://127.0.0.1:{processes['nonconformity'].port}",
                "WEB_NOTIFICATIONS_URL": f"http://127.0.0.1:{processes['notifications'].port}",
                "WEB_CREDENTIALS_FILE": str(tmp / "api-keys.json"),
                "WEB_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'web.sqlite'}"}
            migrate("web", env)
            web = ServiceProcess("web", web_port, env, tmp / "web.log")
            web.start()
            try:
                yield Desk(capa=processes["capa"], web=web, keys=creds["api_keys"],
                           namespace=namespace, box=box)
            finally:
                web.stop()
    finally:
        smtp.stop()


def _send_scar(desk: Desk, code: str) -> dict[str, Any]:
    registered = desk.call("POST", "/v1/suppliers", "manager", json={
        "code": code, "name": f"Acme Seals {code}", "criticality": "high",
        "supplies": "Gaskets", "contacts": [{"name": "Jana Novak",
                                             "email": f"jana@{code}.example"}]})
    assert registered.status_code == 201, registered.text
    capa = desk.call("POST", "/v1/capas", "engineer",
                     json={"title": "Gaskets harden at 80 C", "severity": "major"})
    assert capa.status_code == 201, capa.text
    sent = desk.call("POST", f"/v1/capas/{capa.json()['id']}/scars", "engineer", json={
        "supplier_code": code, "contact_email": f"jana@{code}.example",
        "due_date": (date.today() + timedelta(days=14)).isoformat(),
        "request": "Gaskets of lot 4711 harden after 2 h at 80 C. Contain the lot, find the "
                   "root cause and plan corrective actions."})
    assert sent.status_code == 201 and sent.json()["email_status"] == "sent", sent.text
    return dict(sent.json())


async def _capa_records(desk: Desk, scar_id: str) -> list[Any]:
    """Every record on the CAPA topic up to the ``scar.sent`` of this SCAR."""
    consumer = AIOKafkaConsumer(f"{desk.namespace}capa.events",
                                bootstrap_servers=require_kafka(),
                                auto_offset_reset="earliest", group_id=None,
                                enable_auto_commit=False)
    await consumer.start()
    seen: list[Any] = []
    try:
        async with asyncio.timeout(60):
            while not any(b"capaflow.scar.sent.v1" in r.value and scar_id.encode() in r.value
                          for r in seen):
                batches = await consumer.getmany(timeout_ms=1000)
                seen += [r for records in batches.values() for r in records]
    finally:
        await consumer.stop()
    return seen


def test_the_link_arrives_opens_the_form_and_stays_off_the_bus(desk: Desk) -> None:
    before = len(desk.box.messages)
    scar = _send_scar(desk, f"acme-{uuid.uuid4().hex[:6]}")
    base, token = desk.link_of(before + 1)
    assert base == f"http://127.0.0.1:{desk.web.port}"
    with httpx.Client(base_url=base, timeout=30) as browser:
        confirm = browser.get(f"/supplier-response/{token}")
        assert confirm.status_code == 200 and scar["number"] in confirm.text
        assert confirm.headers["referrer-policy"] == "no-referrer"
        nonce = NONCE.search(confirm.text)
        assert nonce
        assert browser.get("/supplier-response").status_code == 404  # nothing open yet
        forged = browser.post("/supplier-response/open", data={"token": token,
                                                               "nonce": "forged"})
        assert forged.status_code == 403
        opened = browser.post("/supplier-response/open",
                              data={"token": token, "nonce": nonce.group(1)})
        assert opened.status_code == 303 and token not in opened.headers["location"]
        form = browser.get("/supplier-response")
        assert form.status_code == 200 and scar["number"] in form.text
        assert token not in form.text
    records = asyncio.run(_capa_records(desk, scar["id"]))
    assert records
    for record in records:
        assert token.encode() not in record.value
        assert all(token.encode() not in (value or b"") for _, value in record.headers)


def test_the_supplier_answers_in_the_browser(desk: Desk) -> None:
    before = len(desk.box.messages)
    scar = _send_scar(desk, f"seal-{uuid.uuid4().hex[:6]}")
    base, token = desk.link_of(before + 1)
    shots = Screenshots(SHOTS)
    with chromium() as browser:
        context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 900})
        context.set_default_timeout(15_000)
        page = context.new_page()
        page.goto(f"/supplier-response/{token}")
        expect(page.get_by_role("heading", level=1)).to_have_text(
            f"Open the response to {scar['number']} for Acme Seals {scar['supplier_code']}")
        expect(page.get_by_role("button", name="Open")).to_be_focused()
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(r"/supplier-response$"))
        expect(page.get_by_role("heading", level=1)).to_contain_text(scar["number"])
        # A file attached by mistake is the supplier's draft: they remove it, and the
        # focus comes back at the files.
        page.get_by_label("Attach a file").set_input_files(
            files=[{"name": "wrong lot.pdf", "mimeType": "application/pdf",
                    "buffer": samples.pdf()}])
        page.get_by_role("button", name="Attach", exact=True).click()
        expect(page.get_by_role("link", name="wrong lot.pdf")).to_be_visible()
        page.get_by_role("button", name="Remove wrong lot.pdf").click()
        expect(page.get_by_role("status").first).to_contain_text("removed")
        expect(page.get_by_role("heading", name="Evidence files")).to_be_focused()
        expect(page.get_by_role("link", name="wrong lot.pdf")).to_have_count(0)
        page.get_by_label("How did you contain").fill(
            "Lot 4711 quarantined at our plant and yours; 1 200 gaskets sorted.")
        page.get_by_role("button", name="Save draft").click()
        expect(page.get_by_role("status").first).to_contain_text("draft is saved")
        for i, (why, because) in enumerate([
                ("Why do the gaskets harden?", "The compound grade is wrong"),
                ("Why the wrong grade?", "Drawing rev B names no grade"),
                ("Why no grade?", "The review checklist has no temperature item")]):
            page.locator(f"#f-r-why_{i}").fill(why)
            page.locator(f"#f-r-because_{i}").fill(because)
        page.get_by_label("Root cause").fill(
            "The drawing review checklist has no operating-temperature item")
        page.locator("#f-r-action_0").fill("Add operating temperature to the review checklist")
        page.locator("#f-r-action_due_0").fill(
            (date.today() + timedelta(days=30)).isoformat())
        desktop = shots.take(page, "supplier response desktop")
        page.get_by_role("button", name="Submit response").click()
        expect(page.get_by_role("status").first).to_contain_text("submitted")
        page.set_viewport_size({"width": 390, "height": 844})
        phone = shots.take(page, "supplier response 390px")
        context.close()
    DOCS_SHOTS.mkdir(exist_ok=True)
    shutil.copy(desktop, DOCS_SHOTS / "supplier-response-desktop.png")
    shutil.copy(phone, DOCS_SHOTS / "supplier-response-390px.png")
    seen = desk.call("GET", f"/v1/scars/{scar['id']}", "reporter").json()
    assert seen["status"] == "responded"
    assert seen["response"]["root_cause"].startswith("The drawing review checklist")
    assert len(seen["response"]["whys"]) == 3


