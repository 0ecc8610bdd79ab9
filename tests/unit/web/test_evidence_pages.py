"""The evidence forms and downloads of the UI against a fake API: the file goes on
to the service as the browser sent it, a download comes back with the service's
headers (an attachment, never sniffed or run), and refusals are HTML pages."""

import uuid
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from services.web.app import create_app
from services.web.settings import WebSettings
from tests.unit.web.conftest import FakeApi, session_csrf, sign_in

NC_ID = str(uuid.uuid4())
DOWNLOAD_HEADERS = {
    "content-type": "application/pdf", "etag": '"' + "ab" * 32 + '"',
    "content-disposition": "attachment; filename=\"a.pdf\"; filename*=UTF-8''a.pdf",
    "x-content-type-options": "nosniff",
    "content-security-policy": "default-src 'none'; sandbox",
}


def _client(key_store: Path, fake_api: FakeApi, web_db_url: str,
            **settings: int) -> TestClient:
    app = create_app(WebSettings(credentials_file=str(key_store), database_url=web_db_url,
                                 **settings), transport=httpx.MockTransport(fake_api))
    return TestClient(app, base_url="http://testserver", follow_redirects=False)


def test_the_file_goes_on_as_sent(key_store: Path, fake_api: FakeApi,
                                  web_db_url: str) -> None:
    sent: list[httpx.Request] = []

    def attach(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(201, json={"id": str(uuid.uuid4())})

    fake_api.on("POST", f"/v1/nonconformities/{NC_ID}/evidence", attach)
    with _client(key_store, fake_api, web_db_url) as client:
        sign_in(client, "engineer")
        answer = client.post(f"/nonconformities/{NC_ID}/evidence",
                             data={"csrf_token": session_csrf(client)},
                             files={"file": ("Prüfbericht.pdf", b"%PDF-1.7 body",
                                             "application/pdf")})
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/nonconformities/{NC_ID}#evidence"
    [request] = sent
    assert request.headers["authorization"] == "Bearer key-engineer"
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert b"%PDF-1.7 body" in request.content
    assert 'filename="Prüfbericht.pdf"'.encode() in request.content
    assert b"Content-Type: application/pdf" in request.content


def test_an_upload_without_the_csrf_token_goes_nowhere(key_store: Path, fake_api: FakeApi,
                                                       web_db_url: str) -> None:
    with _client(key_store, fake_api, web_db_url) as client:
        sign_in(client, "engineer")
        answer = client.post(f"/nonconformities/{NC_ID}/evidence",
                             files={"file": ("a.pdf", b"%PDF-1.7", "application/pdf")})
    assert answer.status_code == 403
    assert not [r for r in fake_api.requests if r.method == "POST"]


def test_an_upload_over_the_limit_is_an_html_page(key_store: Path, fake_api: FakeApi,
                                                  web_db_url: str) -> None:
    with _client(key_store, fake_api, web_db_url, evidence_max_bytes=1024) as client:
        sign_in(client, "engineer")
        answer = client.post(f"/nonconformities/{NC_ID}/evidence",
                             data={"csrf_token": session_csrf(client)},
                             files={"file": ("big.pdf", b"x" * 200_000, "application/pdf")})
        other_form = client.post("/nonconformities", data={
            "csrf_token": session_csrf(client), "title": "t" * 5000, "severity": "minor"})
    assert answer.status_code == 413
    assert answer.headers["content-type"].startswith("text/html")
    assert "File too large" in answer.text
    assert not [r for r in fake_api.requests
                if r.method == "POST" and r.url.path.endswith("/evidence")]
    assert other_form.status_code != 413  # only the upload forms have this limit


def test_a_download_keeps_the_services_headers(key_store: Path, fake_api: FakeApi,
                                               web_db_url: str) -> None:
    attachment = str(uuid.uuid4())
    fake_api.on("GET", f"/v1/nonconformities/{NC_ID}/evidence/{attachment}",
                httpx.Response(200, content=b"%PDF-1.7 body", headers=DOWNLOAD_HEADERS))
    with _client(key_store, fake_api, web_db_url) as client:
        sign_in(client, "reporter")
        answer = client.get(f"/nonconformities/{NC_ID}/evidence/{attachment}")
        not_an_id = client.get(f"/nonconformities/{NC_ID}/evidence/..%2F..%2Fetc")
        other_record = client.get(f"/capas/{NC_ID}/lessons/{NC_ID}/evidence/{attachment}")
    assert answer.status_code == 200 and answer.content == b"%PDF-1.7 body"
    for name, value in DOWNLOAD_HEADERS.items():
        assert answer.headers[name] == value, name
    assert not_an_id.status_code == 404 and other_record.status_code == 404
    assert other_record.headers["content-type"].startswith("text/html")
