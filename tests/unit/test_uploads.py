"""The HTTP side of evidence uploads on a bare app: upload paths get their own
body limit and pass the NUL guard, other paths keep theirs, and the streamed
multipart reader takes exactly one file part."""

from typing import Any

import httpx
from fastapi import FastAPI, Request

from shared.http.errors import install_problem_handlers
from shared.http.limits import BodySizeLimit, NulGuard, UploadLimit
from shared.http.uploads import read_upload
from tests import evidence_samples as samples

FILE_LIMIT = 4096


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(NulGuard)
    app.add_middleware(BodySizeLimit, max_bytes=1024, uploads=UploadLimit(FILE_LIMIT + 1024))

    @app.post("/records/{record_id}/evidence")
    async def upload(record_id: str, request: Request) -> dict[str, Any]:
        got = await read_upload(request, max_bytes=FILE_LIMIT)
        return {"filename": got.filename, "declared": got.declared_type,
                "size": len(got.content), "sha256": got.sha256}

    @app.post("/records")
    async def create(body: dict[str, Any]) -> dict[str, Any]:
        return body

    return app


def _client() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=_app()), base_url="http://t")


async def test_upload_paths_have_their_own_limit_and_take_binary_bytes() -> None:
    content = samples.png(b"\x00" * 2000)  # NULs, and twice the JSON limit
    async with _client() as client:
        ok = await client.post("/records/1/evidence",
                               files={"file": ("p.png", content, "image/png")})
        json_too_big = await client.post("/records", json={"text": "x" * 2000})
        json_nul = await client.post("/records", json={"text": "a\u0000b"})
        file_too_big = await client.post("/records/1/evidence",
                                         files={"file": ("p.png", b"y" * (FILE_LIMIT + 1))})
        body_too_big = await client.post("/records/1/evidence",
                                         files={"file": ("p.png", b"y" * (FILE_LIMIT * 3))})
    assert ok.status_code == 200, ok.text
    assert ok.json()["size"] == len(content) and ok.json()["declared"] == "image/png"
    assert json_too_big.status_code == 413 and json_nul.status_code == 422
    assert file_too_big.status_code == 413
    assert str(FILE_LIMIT) in file_too_big.json()["detail"]
    assert body_too_big.status_code == 413


async def test_the_rfc_5987_file_name_wins_over_the_plain_one() -> None:
    body = (b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"plain.pdf\"; "
            b"filename*=UTF-8''Pr%C3%BCfbericht.pdf\r\n\r\n" + samples.pdf() + b"\r\n--b--\r\n")
    async with _client() as client:
        answer = await client.post("/records/1/evidence", content=body,
                                   headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert answer.json()["filename"] == "Prüfbericht.pdf"
    assert answer.json()["declared"] is None


async def test_malformed_or_foreign_bodies_are_4xx() -> None:
    async with _client() as client:
        no_boundary = await client.post("/records/1/evidence", content=b"x",
                                        headers={"Content-Type": "multipart/form-data"})
        broken = await client.post("/records/1/evidence", content=b"--b\r\nnot a header\r\n",
                                   headers={"Content-Type": "multipart/form-data; boundary=b"})
        form = await client.post("/records/1/evidence", data={"file": "not a file"})
        plain = await client.post("/records/1/evidence", content=samples.pdf(),
                                  headers={"Content-Type": "application/pdf"})
        nothing = await client.post("/records/1/evidence", content=b"--b--\r\n",
                                    headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert no_boundary.status_code == 400
    assert broken.status_code == 400
    assert form.status_code == 415  # url-encoded: a form without a file
    assert plain.status_code == 415
    assert nothing.status_code == 422
    for answer in (no_boundary, broken, form, plain, nothing):
        assert answer.headers["content-type"] == "application/problem+json"


async def test_a_file_sent_with_another_method_is_405_not_a_nul_refusal() -> None:
    async with _client() as client:
        answer = await client.request("PUT", "/records/1/evidence", content=samples.png(),
                                      headers={"Content-Type": "image/png"})
    assert answer.status_code == 405


def _raw(body: bytes, boundary: str = "XyZ") -> dict[str, Any]:
    return {"content": body,
            "headers": {"content-type": f"multipart/form-data; boundary={boundary}"}}


PART = (b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\nhello world\r\n")


async def test_a_body_cut_off_before_its_closing_boundary_is_refused() -> None:
    async with _client() as client:
        whole = await client.post("/records/1/evidence", **_raw(PART + b"--XyZ--\r\n"))
        no_end = await client.post("/records/1/evidence", **_raw(PART))
        cut = await client.post("/records/1/evidence", **_raw((PART + b"--XyZ--\r\n")[:-12]))
    assert whole.status_code == 200 and whole.json()["size"] == len(b"hello world")
    for refused in (no_end, cut):
        assert refused.status_code == 400, refused.text
        assert "closing boundary" in refused.json()["detail"]


async def test_a_boundary_the_parser_refuses_is_a_400() -> None:
    long = "b" * 300
    body = PART.replace(b"XyZ", long.encode()) + f"--{long}--\r\n".encode()
    async with _client() as client:
        response = await client.post("/records/1/evidence", **_raw(body, long))
    assert response.status_code == 400, response.text


async def test_a_filename_star_inside_the_quoted_name_is_text_and_browser_escapes_decode(
        ) -> None:
    quoted = PART.replace(b'filename="a.txt"', b'filename="a; filename*=UTF-8\'\'b.html"')
    escaped = PART.replace(b'filename="a.txt"', b'filename="q%22uote%0D%0A.txt"')
    async with _client() as client:
        first = await client.post("/records/1/evidence", **_raw(quoted + b"--XyZ--\r\n"))
        second = await client.post("/records/1/evidence", **_raw(escaped + b"--XyZ--\r\n"))
    assert first.json()["filename"] == "a; filename*=UTF-8''b.html"
    assert second.json()["filename"] == 'q"uote\r\n.txt'  # cleaned later by the name rules


async def test_an_oversized_chunked_body_is_a_413_through_a_function_middleware() -> None:
    # An @app.middleware("http") function (as the web UI has) hands the refusal up in
    # an ExceptionGroup; it is still the 413, not a 500.
    app = _app()

    @app.middleware("http")
    async def passthrough(request: Request, call_next: Any) -> Any:
        return await call_next(request)

    async def chunks() -> Any:
        yield PART
        for _ in range(10):
            yield b"y" * 1024
        yield b"\r\n--XyZ--\r\n"

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.post(
            "/records/1/evidence", content=chunks(),
            headers={"content-type": "multipart/form-data; boundary=XyZ"})
    assert response.status_code == 413, response.text
