"""Opening a SCAR's link (issue 15): the e-mail's address shows what it opens and
asks to confirm; only the confirming POST, with the nonce its page set, puts the
token into the form's cookie, so no other site (and no page that loads a link)
can swap the request a supplier has open for its own."""

import re
import uuid
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from services.web.app import create_app
from services.web.settings import WebSettings
from tests.unit.web.conftest import FakeApi
from tests.unit.web.test_supplier_pages import (
    NONCE,
    TOKEN,
    open_link,
    scar_for_supplier,
    supplier_api,
)

OTHER = "O" * 43


def _two_scars(fake_api: FakeApi) -> list[httpx.Request]:
    seen: list[httpx.Request] = []
    by_token = {TOKEN: scar_for_supplier(),
                OTHER: scar_for_supplier(number="SCAR-2026-0099", supplier_name="Evil Ltd")}

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        scar = by_token.get(request.headers.get("authorization", "").removeprefix("SCAR "))
        return httpx.Response(200, json=scar) if scar else httpx.Response(404, json={})

    fake_api.on("GET", "/v1/supplier-response", answer)
    return seen


def test_the_link_asks_before_it_opens_the_form(ui: TestClient, fake_api: FakeApi) -> None:
    seen = supplier_api(fake_api, scar_for_supplier(
        request="Gaskets of lot 4711 <b>harden</b>\nContain the lot."))
    page = ui.get(f"/supplier-response/{TOKEN}")
    assert page.status_code == 200 and "set-cookie" in page.headers
    assert "capaflow_scar_link" not in page.headers["set-cookie"]  # nothing opened yet
    nonce_cookie = page.headers["set-cookie"].lower()
    for part in ("httponly", "samesite=strict", "path=/supplier-response", "max-age=600"):
        assert part in nonce_cookie, part
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    text = page.text
    assert "Open the response to SCAR-2026-0001 for Acme Seals GmbH" in text
    assert "2026-12-21" in text and "&lt;b&gt;harden&lt;/b&gt;" in text
    assert "Contain the lot" not in text  # the request's first line only, as its title
    assert "replaces" not in text
    assert not re.search(r'(src|href)="(https?:)?//', text)  # nothing from elsewhere
    assert ui.get("/supplier-response").status_code == 404  # still no form open
    assert seen[-1].headers["authorization"] == f"SCAR {TOKEN}"

    nonce = NONCE.search(text)
    assert nonce
    opened = ui.post("/supplier-response/open", data={"token": TOKEN, "nonce": nonce.group(1)})
    assert opened.status_code == 303 and opened.headers["location"] == "/supplier-response"
    assert opened.headers["referrer-policy"] == "no-referrer"
    cookie = next(c for c in opened.headers.get_list("set-cookie")
                  if c.startswith("capaflow_scar_link=")).lower()
    for part in ("httponly", "samesite=lax", "path=/supplier-response"):
        assert part in cookie, part
    assert "max-age" not in cookie and "expires" not in cookie  # a browser-session cookie
    form = ui.get("/supplier-response")
    assert form.status_code == 200 and "SCAR-2026-0001" in form.text and TOKEN not in form.text
    assert "Sign out" not in form.text  # no account, no navigation of the staff UI
    # The link of the request already open goes straight to the form.
    again = ui.get(f"/supplier-response/{TOKEN}")
    assert again.status_code == 303 and again.headers["location"] == "/supplier-response"


def test_a_post_without_its_pages_nonce_opens_nothing(ui: TestClient,
                                                      fake_api: FakeApi) -> None:
    _two_scars(fake_api)
    open_link(ui)
    # Another site posts its own link (with a nonce of its own making, or the one
    # its own visit got): the supplier's browser holds another nonce, or none.
    for nonce in ("", "forged", "x" * 43):
        forged = ui.post("/supplier-response/open", data={"token": OTHER, "nonce": nonce})
        assert forged.status_code == 403, nonce
        assert "capaflow_scar_link" not in forged.headers.get("set-cookie", "")
    assert "SCAR-2026-0001" in ui.get("/supplier-response").text  # still the supplier's own
    mangled = ui.get(f"/supplier-response/{OTHER}")
    nonce = NONCE.search(mangled.text)
    assert nonce
    bad = ui.post("/supplier-response/open", data={"token": "short", "nonce": nonce.group(1)})
    assert bad.status_code == 404 and "Link not valid" in bad.text


def test_replacing_an_open_request_says_so(ui: TestClient, fake_api: FakeApi) -> None:
    _two_scars(fake_api)
    assert open_link(ui).status_code == 303
    page = ui.get(f"/supplier-response/{OTHER}")
    assert "for Evil Ltd" in page.text
    assert "This replaces the request you had open (SCAR-2026-0001)" in page.text
    assert "SCAR-2026-0001" in ui.get("/supplier-response").text  # not replaced by a GET
    nonce = NONCE.search(page.text)
    assert nonce
    ui.post("/supplier-response/open", data={"token": OTHER, "nonce": nonce.group(1)})
    assert "SCAR-2026-0099" in ui.get("/supplier-response").text


def _file(file_id: str, name: str, *, submitted: bool) -> dict[str, object]:
    return {"id": file_id, "record_type": "scar_response", "record_id": file_id,
            "sha256": "0" * 64, "filename": name, "content_type": "application/pdf",
            "size": 10, "attached_by": "supplier:acme-seals",
            "attached_at": "2026-12-01T00:00:00Z",
            "download": f"/v1/supplier-response/evidence/{file_id}", "submitted": submitted}


def test_a_draft_file_has_a_remove_button(ui: TestClient, fake_api: FakeApi) -> None:
    draft_id, sent_id = str(uuid.UUID("d" * 32)), str(uuid.UUID("5" * 32))
    supplier_api(fake_api, scar_for_supplier(status="rejected", evidence=[
        _file(sent_id, "8D.pdf", submitted=True), _file(draft_id, "lab.pdf", submitted=False)]))
    deleted: list[str] = []

    def delete(request: httpx.Request) -> httpx.Response:
        deleted.append(request.url.path)
        return httpx.Response(204)

    fake_api.on("DELETE", f"/v1/supplier-response/evidence/{draft_id}", delete)
    fake_api.on("DELETE", f"/v1/supplier-response/evidence/{sent_id}", httpx.Response(
        409, json={"detail": "8D.pdf was part of a submitted response, so it stays with it."}))
    open_link(ui)
    page = ui.get("/supplier-response").text
    assert f'action="/supplier-response/evidence/{draft_id}/removal"' in page
    assert 'aria-label="Remove lab.pdf"' in page
    assert f"/evidence/{sent_id}/removal" not in page  # submitted: it stays
    removed = ui.post(f"/supplier-response/evidence/{draft_id}/removal")
    assert removed.status_code == 303
    assert removed.headers["location"] == "/supplier-response?note=removed#files"
    assert deleted == [f"/v1/supplier-response/evidence/{draft_id}"]
    refused = ui.post(f"/supplier-response/evidence/{sent_id}/removal")
    assert refused.status_code == 409 and "stays with it" in refused.text
    # Without the link's cookie (another site's form), nothing is removed.
    ui.cookies.clear()
    assert ui.post(f"/supplier-response/evidence/{draft_id}/removal").status_code == 404
    assert len(deleted) == 1


def test_a_file_address_that_is_no_uuid_never_reaches_the_api(ui: TestClient,
                                                               fake_api: FakeApi) -> None:
    """"%00" or a line break broke the API's URL (a 500); ".." climbed to
    /v1/supplier-response, so the SCAR's JSON came back as a "download" and a
    removal became DELETE /v1/supplier-response."""
    supplier_api(fake_api, scar_for_supplier())
    open_link(ui)
    before = len(fake_api.requests)
    # (".." itself the test client resolves before sending; "%2e%2e" reaches the
    # page as "..", as it does from any client that sends the path as it is.)
    for raw in ("%00", "a%0Ab", "%2e%2e", "%2E%2E", "x" * 70, "not-a-uuid"):
        got = ui.get(f"/supplier-response/evidence/{raw}")
        assert got.status_code == 404 and "Link not valid" in got.text, raw
        removal = ui.post(f"/supplier-response/evidence/{raw}/removal")
        assert removal.status_code == 404 and "Link not valid" in removal.text, raw
    assert fake_api.requests[before:] == []


def test_a_link_dead_by_the_time_it_is_confirmed_leaves_the_open_one(
        ui: TestClient, fake_api: FakeApi) -> None:
    """The link withdrawn between its page and the confirmation: the POST asks the
    service again, answers "Link not valid" and keeps the request already open."""
    _two_scars(fake_api)
    open_link(ui)
    page = ui.get(f"/supplier-response/{OTHER}")
    nonce = NONCE.search(page.text)
    assert nonce
    fake_api.on("GET", "/v1/supplier-response", lambda request: httpx.Response(
        200, json=scar_for_supplier()) if request.headers["authorization"] == f"SCAR {TOKEN}"
        else httpx.Response(404, json={}))  # OTHER revoked meanwhile
    dead = ui.post("/supplier-response/open", data={"token": OTHER, "nonce": nonce.group(1)})
    assert dead.status_code == 404 and "Link not valid" in dead.text
    assert "capaflow_scar_link" not in dead.headers.get("set-cookie", "")
    assert "SCAR-2026-0001" in ui.get("/supplier-response").text


def _nonce_cookie_of(response: httpx.Response) -> tuple[str, str]:
    cookie = next(c for c in response.headers.get_list("set-cookie")
                  if "capaflow_scar_open" in c)
    name, _, rest = cookie.partition("=")
    return name, rest.partition(";")[0]


def test_a_nonce_is_the_servers_for_its_link(ui: TestClient, fake_api: FakeApi) -> None:
    """A cookie value of one's choosing does not pass (whoever can write a cookie
    for the UI's host, a sibling subdomain say), nor does link X's nonce confirm Y."""
    _two_scars(fake_api)
    open_link(ui)
    other_page = ui.get(f"/supplier-response/{OTHER}")
    other_cookie, _ = _nonce_cookie_of(other_page)
    forged_nonces = ["x" * 43, f"{2**40}.abc.{'0' * 64}", "9999999999..", "."]
    for forged in forged_nonces:
        ui.cookies.set(other_cookie, forged, path="/supplier-response")
        refused = ui.post("/supplier-response/open", data={"token": OTHER, "nonce": forged})
        assert refused.status_code == 403, forged
    # The nonce link TOKEN's page got, planted as OTHER's cookie: still refused.
    mine = ui.get(f"/supplier-response/{TOKEN}")  # open already: no new nonce
    assert mine.status_code == 303
    ui.cookies.clear()
    page_x = ui.get(f"/supplier-response/{TOKEN}")
    _, nonce_x = _nonce_cookie_of(page_x)
    ui.cookies.set(other_cookie, nonce_x, path="/supplier-response")
    swapped = ui.post("/supplier-response/open", data={"token": OTHER, "nonce": nonce_x})
    assert swapped.status_code == 403
    assert ui.get("/supplier-response").status_code == 404  # nothing was opened


def test_two_confirm_pages_in_two_tabs_both_work(ui: TestClient, fake_api: FakeApi) -> None:
    _two_scars(fake_api)
    first, second = ui.get(f"/supplier-response/{TOKEN}"), ui.get(f"/supplier-response/{OTHER}")
    assert _nonce_cookie_of(first)[0] != _nonce_cookie_of(second)[0]
    for token, page in ((TOKEN, first), (OTHER, second)):
        nonce = NONCE.search(page.text)
        assert nonce
        opened = ui.post("/supplier-response/open", data={"token": token, "nonce": nonce.group(1)})
        assert opened.status_code == 303, token
    assert "SCAR-2026-0099" in ui.get("/supplier-response").text


def test_over_https_both_cookies_are_host_cookies(key_store: Path, fake_api: FakeApi,
                                                  web_db_url: str) -> None:
    settings = WebSettings(credentials_file=str(key_store), database_url=web_db_url,
                           cookie_secure=True)
    _two_scars(fake_api)
    with TestClient(create_app(settings, transport=httpx.MockTransport(fake_api)),
                    base_url="https://testserver", follow_redirects=False) as client:
        page = client.get(f"/supplier-response/{TOKEN}")
        nonce_cookie = page.headers["set-cookie"].lower()
        assert nonce_cookie.startswith("__host-capaflow_scar_open_")
        for part in ("secure", "path=/;", "httponly", "samesite=strict"):
            assert part in nonce_cookie + ";", part
        assert "domain=" not in nonce_cookie
        nonce = NONCE.search(page.text)
        assert nonce
        opened = client.post("/supplier-response/open",
                             data={"token": TOKEN, "nonce": nonce.group(1)})
        assert opened.status_code == 303
        cookie = next(c for c in opened.headers.get_list("set-cookie")
                      if c.startswith("__Host-capaflow_scar_link=")).lower()
        for part in ("secure", "path=/", "httponly", "samesite=lax"):
            assert part in cookie, part
        assert "SCAR-2026-0001" in client.get("/supplier-response").text
        # The plain name, as a sibling subdomain could set it, opens nothing.
        client.cookies.clear()
        client.cookies.set("capaflow_scar_link", TOKEN)
        assert client.get("/supplier-response").status_code == 404
