"""Small files of each kind for the evidence tests: only their first bytes
matter to the type rules, so each is its format's signature and a body."""

import io
import struct
import zipfile

# A marker no header or event field would carry: found in an event, it would be the bytes.
MARKER = b"CAPAFLOW-EVIDENCE-BYTES-7f3a"


def pdf(extra: bytes = b"") -> bytes:
    return (b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n" + MARKER + extra
            + b"\ntrailer << /Root 1 0 R >>\n%%EOF\n")


def png(extra: bytes = b"") -> bytes:
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr
            + b"\x00\x00\x00\x00" + MARKER + extra)


def jpeg() -> bytes:
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + MARKER


def gif() -> bytes:
    return b"GIF89a\x01\x00\x01\x00\x00\x00\x00;" + MARKER


def webp() -> bytes:
    body = b"WEBPVP8 " + struct.pack("<I", 10) + b"\x00" * 10 + MARKER
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _zip(entries: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, content in entries:
            archive.writestr(name, content)
    return buffer.getvalue()


def docx() -> bytes:
    """As Word writes one: [Content_Types].xml first, the word/ part soon after."""
    return _zip([("[Content_Types].xml", b"<Types/>"), ("_rels/.rels", b"<Relationships/>"),
                 ("word/document.xml", b"<w:document>" + MARKER + b"</w:document>")])


def xlsx() -> bytes:
    return _zip([("[Content_Types].xml", b"<Types/>"), ("xl/workbook.xml", b"<workbook/>")])


def plain_zip() -> bytes:
    return _zip([("notes.txt", b"not an office file")])


def exe() -> bytes:
    return b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 56 + MARKER


def csv() -> bytes:
    return "line,leaks,°C\n3,0,80\n".encode() + MARKER


def text_with_nul() -> bytes:
    return b"looks like text\x00but is not"
