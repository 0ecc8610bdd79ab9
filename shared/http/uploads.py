"""Evidence over HTTP: a streamed multipart/form-data upload cut off at its size
limit, and the download response.

Why not FastAPI's ``UploadFile``: Starlette's form parser spools every file to
a temporary file before the route runs, so a 2 GB upload would be read (and
written to disk) in full before anyone could refuse it. Here the body is fed to
python-multipart's streaming parser as it arrives; the file part's bytes are
counted and the upload is refused with 413 the moment they pass the limit, so
at most ``max_bytes`` of it is ever held. The route must not declare a body
parameter (FastAPI would read the body first) and its path ends in
``/evidence``, which the body-size middleware gives the larger limit and the
NUL guard lets through (shared.http.limits).
"""

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from fastapi import Request, Response
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from shared.errors import BadRequest, Invalid, TooLarge, UnsupportedType
from shared.evidence.attach import EvidenceFile, UploadedFile
from shared.evidence.rules import FALLBACK_FILENAME, served_type
from shared.http.errors import PROBLEM_CONTENT

if TYPE_CHECKING:  # a typing-only name in python-multipart
    from python_multipart.multipart import MultipartCallbacks

# The one field an upload has.
FILE_FIELD = "file"
# Part headers beyond this are not a browser's or curl's: refused, not buffered.
MAX_PART_HEADER_BYTES = 16 * 1024
# The multipart envelope around the file (boundaries, part headers): the body-size
# middleware allows this much over the file limit on upload paths.
ENVELOPE_BYTES = 64 * 1024
# RFC 5987 attr-char besides letters and digits: everything else is percent-encoded.
_ATTR_CHARS = "!#$&+-.^_`|~"
_FILENAME_STAR = re.compile(r"(?:^|;)\s*filename\*\s*=\s*([^;]+)", re.IGNORECASE)
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_BROWSER_ESCAPES = re.compile(r"%(22|0[dDaA])")

# The OpenAPI request body of an upload route (the route reads the stream itself).
UPLOAD_OPENAPI: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {
        "type": "object", "required": [FILE_FIELD], "additionalProperties": False,
        "properties": {FILE_FIELD: {"type": "string", "format": "binary", "minLength": 1,
                                    "description": "The evidence file (its part's "
                                                   "Content-Type and filename are used)"}}}}}}}


# Besides the statuses every route documents (shared.http.errors.PROBLEM_RESPONSES).
UPLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    415: {"description": "Not multipart/form-data, or a file type that is not accepted "
                         "or not what its bytes are (type "
                         "urn:capaflow:problem:evidence-type-refused)",
          "content": PROBLEM_CONTENT}}
DOWNLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The file's bytes, as an attachment, under the type stored at "
                         "upload (one of the accepted types)", "content": {"*/*": {
                             "schema": {"type": "string", "format": "binary"}}}},
    304: {"description": "Not modified (If-None-Match named the ETag, the file's SHA-256)"}}


class _Upload:
    """Collects the one file part while python-multipart parses the stream."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.content = bytearray()
        self.filename: str | None = None
        self.declared: str | None = None
        self.parts = 0
        self._headers: dict[str, bytes] = {}
        self._field = bytearray()
        self._value = bytearray()
        self._header_bytes = 0
        self._in_file = False
        # Set by the closing boundary: a body cut off before it (a dropped
        # connection, a truncating proxy) must not become evidence.
        self.complete = False

    def callbacks(self) -> "MultipartCallbacks":
        return {"on_part_begin": self._part_begin, "on_header_field": self._header_field,
                "on_header_value": self._header_value, "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished, "on_part_data": self._data,
                "on_end": self._end}

    def _end(self) -> None:
        self.complete = True

    def _part_begin(self) -> None:
        self._headers, self._header_bytes, self._in_file = {}, 0, False

    def _count_header(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > MAX_PART_HEADER_BYTES:
            raise BadRequest("A part's headers are too long for a file upload.")

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._field.decode("latin-1").strip().lower()] = bytes(self._value).strip()
        self._field, self._value = bytearray(), bytearray()

    def _headers_finished(self) -> None:
        self.parts += 1
        disposition = self._headers.get("content-disposition", b"")
        kind, options = parse_options_header(disposition)
        name = options.get(b"name", b"").decode("utf-8", errors="replace")
        if kind != b"form-data" or name != FILE_FIELD:
            raise Invalid(f"An upload has one field, {FILE_FIELD!r}; "
                          f"{name or 'an unnamed part'!r} is not one.",
                          [(name or "(part)", f"Unknown field; send the file as {FILE_FIELD}.")])
        if self.parts > 1:
            raise Invalid("Attach one file per request.",
                          [(FILE_FIELD, "Only one file per request.")])
        self.filename = _filename(disposition, options)
        if self.filename is None:
            raise Invalid(f"The {FILE_FIELD!r} part is not a file (it has no filename).",
                          [(FILE_FIELD, "Send a file, with its file name.")])
        declared = self._headers.get("content-type")
        self.declared = declared.decode("latin-1") if declared is not None else None
        self._in_file = True

    def _data(self, data: bytes, start: int, end: int) -> None:
        if not self._in_file:
            return
        if len(self.content) + (end - start) > self.max_bytes:
            raise TooLarge(f"The file is larger than {self.max_bytes} bytes, the limit for "
                           "evidence; attach a smaller file or split it.",
                           max_bytes=self.max_bytes)
        self.content += data[start:end]


def _filename(disposition: bytes, options: dict[bytes, bytes]) -> str | None:
    # RFC 7578 says plain filename= (UTF-8 as sent, which browsers and curl do);
    # some clients add RFC 5987's filename*=UTF-8''..., which wins when present.
    # Only a filename* parameter of its own: not the text of a quoted filename.
    unquoted = _QUOTED.sub('""', disposition.decode("latin-1"))
    starred = _FILENAME_STAR.search(unquoted)
    if starred:
        charset, _, rest = starred.group(1).strip().strip('"').partition("'")
        _language, _, encoded = rest.partition("'")
        if charset.lower() in ("utf-8", "") and encoded:
            return unquote(encoded, encoding="utf-8", errors="replace")
    raw = options.get(b"filename")
    if raw is None:
        return None
    # Browsers send " CR LF in a file name as %22 %0D %0A (the HTML form encoding);
    # decoded, the name rules then treat them like any other such character.
    return _BROWSER_ESCAPES.sub(lambda m: chr(int(m.group(1), 16)),
                                raw.decode("utf-8", errors="replace"))


async def read_upload(request: Request, *, max_bytes: int) -> UploadedFile:
    """The one file of a multipart/form-data request, read as it streams in.

    415 for another request type, 400 for a malformed body, 422 for a missing,
    extra or nameless part, 413 as soon as the file passes ``max_bytes``.
    """
    kind, params = parse_options_header(request.headers.get("content-type", ""))
    if kind != b"multipart/form-data":
        raise UnsupportedType("Send the file as multipart/form-data, in a field named "
                              f"{FILE_FIELD!r} (curl -F {FILE_FIELD}=@report.pdf).")
    boundary = params.get(b"boundary")
    if not boundary:
        raise BadRequest("The multipart/form-data Content-Type names no boundary.")
    upload = _Upload(max_bytes)
    try:
        parser = MultipartParser(boundary, upload.callbacks())
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except FormParserError as exc:  # the parser's every refusal (a too long boundary...)
        raise BadRequest(f"The multipart body is malformed: {exc}.") from exc
    if not upload.complete:
        raise BadRequest("The multipart body ends before its closing boundary: the file may "
                         "be cut off. Send it again.")
    if upload.filename is None:
        raise Invalid(f"No file was sent; send it in a field named {FILE_FIELD!r}.",
                      [(FILE_FIELD, "Field required.")])
    return UploadedFile(filename=upload.filename, declared_type=upload.declared,
                        content=bytes(upload.content))


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII ``filename`` for old clients and the exact
    name as RFC 5987's ``filename*`` (RFC 6266 §4.3)."""
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\%' else "_"
                       for ch in filename).strip("_ ") or FALLBACK_FILENAME
    return (f'attachment; filename="{fallback}"; '
            f"filename*=UTF-8''{quote(filename, safe=_ATTR_CHARS)}")


def download_response(request: Request, evidence: EvidenceFile) -> Response:
    """The stored bytes, never rendered by the browser: always a download (attachment),
    under the type the bytes showed at upload, with sniffing off and a CSP that
    sandboxes whatever a browser might still open. The ETag is the content hash."""
    row = evidence.attachment
    etag = f'"{row.sha256}"'
    headers = {"ETag": etag, "Content-Disposition": content_disposition(row.filename),
               "X-Content-Type-Options": "nosniff",
               "Content-Security-Policy": "default-src 'none'; sandbox",
               "Cache-Control": "private, no-cache"}
    wanted = request.headers.get("if-none-match", "")
    if etag in (t.strip() for t in wanted.split(",")) or wanted.strip() == "*":
        return Response(status_code=304, headers=headers)
    return Response(evidence.content, media_type=served_type(row.content_type),
                    headers=headers)
