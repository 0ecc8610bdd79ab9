"""The evidence rules without HTTP or a database: which types are taken (from
the bytes, not from what the client says), how file names are cleaned, and
how the download names the file."""

import pytest

from shared.errors import Invalid, UnsupportedType
from shared.evidence import rules
from shared.evidence.rules import clean_filename, evidence_type, normalise_declared
from shared.http.uploads import content_disposition
from tests import evidence_samples as samples


@pytest.mark.parametrize(("content", "declared", "expected"), [
    (samples.pdf(), "application/pdf", rules.PDF),
    (samples.pdf(), "application/x-pdf", rules.PDF),
    (samples.png(), "image/png", rules.PNG),
    (samples.jpeg(), "image/jpg", rules.JPEG),
    (samples.gif(), "image/gif", rules.GIF),
    (samples.webp(), "image/webp", rules.WEBP),
    (samples.docx(), rules.DOCX, rules.DOCX),
    (samples.xlsx(), rules.XLSX, rules.XLSX),
    # Nothing useful declared (curl's default for unknown extensions): the bytes decide.
    (samples.pdf(), "application/octet-stream", rules.PDF),
    (samples.docx(), None, rules.DOCX),
    (samples.png(), "", rules.PNG),
])
def test_accepted_binary_types_come_from_the_bytes(content: bytes, declared: str | None,
                                                   expected: str) -> None:
    assert evidence_type(content, declared=declared, filename="x") == expected


@pytest.mark.parametrize(("content", "declared", "filename", "expected"), [
    (samples.csv(), "text/csv", "r.csv", rules.CSV),
    (samples.csv(), None, "readings.CSV", rules.CSV),
    (samples.csv(), "application/vnd.ms-excel", "r.csv", rules.CSV),
    ("Prüfbericht: 0 Lecks\n".encode(), None, "notes.txt", rules.TEXT),
    (b"plain", "text/plain; charset=utf-8", "notes", rules.TEXT),
    ("\ufeffBOM first".encode(), "text/plain", "n.txt", rules.TEXT),
])
def test_utf8_text_without_nul_is_text(content: bytes, declared: str | None, filename: str,
                                       expected: str) -> None:
    assert evidence_type(content, declared=declared, filename=filename) == expected


@pytest.mark.parametrize(("content", "declared", "words"), [
    (samples.png(), "application/pdf", ["sent as application/pdf", "image/png"]),
    (samples.docx(), rules.XLSX, ["sent as", rules.DOCX]),
    (samples.plain_zip(), None, ["application/zip"]),
    (samples.exe(), "application/octet-stream", ["application/x-msdownload"]),
    (b"<svg onload=alert(1)>", "image/svg+xml", ["image/svg+xml"]),
    (b"<html>", "text/html", ["text/html"]),
    (samples.text_with_nul(), "text/plain", ["UTF-8 text"]),
    (b"\xff\xfe\x00 not utf-8", None, ["UTF-8 text"]),
    (b"just words", "application/pdf", ["sent as application/pdf", "plain text"]),
    (b"just words", "application/vnd.ms-excel", ["plain text"]),  # not a .csv name
])
def test_refusals_name_the_reason(content: bytes, declared: str | None,
                                  words: list[str]) -> None:
    with pytest.raises(UnsupportedType) as refused:
        evidence_type(content, declared=declared, filename="file.bin")
    assert refused.value.status == 415
    assert refused.value.type_uri == rules.TYPE_REFUSED
    for word in words:
        assert word in refused.value.detail


def test_an_empty_file_is_invalid_not_unsupported() -> None:
    with pytest.raises(Invalid) as refused:
        evidence_type(b"", declared="application/pdf", filename="a.pdf")
    assert refused.value.status == 422


def test_only_the_first_kilobytes_are_sniffed() -> None:
    # A PDF whose tail holds an executable's signature is still a PDF: the type is
    # the file's start, as every reader of these formats sees it.
    assert evidence_type(samples.pdf(b"\x00" * 10_000 + samples.exe()), declared=None,
                         filename="a.pdf") == rules.PDF


def test_declared_types_are_normalised() -> None:
    assert normalise_declared(" Image/JPG ; q=1") == rules.JPEG
    assert normalise_declared("application/octet-stream") == ""
    assert normalise_declared(None) == ""


@pytest.mark.parametrize(("raw", "clean"), [
    ("report.pdf", "report.pdf"),
    ("../../etc/passwd", "passwd"),
    ("..\\..\\boot.ini", "boot.ini"),
    ("/abs/path/file.png", "file.png"),
    ("dir/", "evidence"),
    ("..", "evidence"),
    ("", "evidence"),
    ("   ", "evidence"),
    (".bashrc", "bashrc"),
    ("trailing. . .", "trailing"),
    # Bidi override (U+202E) that would show "invoice_exe.pdf" as "invoice_fdp.exe".
    ("invoice_\u202efdp.exe", "invoice_fdp.exe"),
    ("zero\u200bwidth\ufeff.pdf", "zerowidth.pdf"),
    ("nul\x00byte\x07\x7f.pdf", "nulbyte.pdf"),
    ("tab\there\nnewline.pdf", "tab here newline.pdf"),
    ("many     spaces\u00a0\u2003.pdf", "many spaces .pdf"),
    ("private\ue000use.pdf", "privateuse.pdf"),
    # Fullwidth solidus and full stops become what they look like, and are handled.
    ("\uff0e\uff0e\uff0fetc\uff0fshadow", "shadow"),
    ("what?<is>:this|*\".pdf", "what__is__this___.pdf"),
    ("CON", "_CON"),
    ("lpt1.txt", "_lpt1.txt"),
    ("Prüfbericht Linie 3 – 2026.pdf", "Prüfbericht Linie 3 – 2026.pdf"),  # noqa: RUF001
    ("報告書.pdf", "報告書.pdf"),
    ("e\u0301te\u0301.pdf", "été.pdf"),  # composed (NFKC)
])
def test_file_names_are_cleaned(raw: str, clean: str) -> None:
    assert clean_filename(raw) == clean


def test_long_names_are_cut_to_255_characters_keeping_the_extension() -> None:
    assert clean_filename("a" * 400 + ".pdf") == "a" * 251 + ".pdf"
    assert clean_filename("é" * 400) == "é" * 255
    assert len(clean_filename("b" * 300 + "." + "c" * 40)) == 255  # no real extension


def test_download_names_the_file_for_old_and_new_clients() -> None:
    assert content_disposition("report.pdf") == (
        "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf")
    header = content_disposition("Prüf \"bericht\" 100%.pdf")
    assert header.isascii()
    assert 'filename="Pr_f _bericht_ 100_.pdf"' in header
    assert "filename*=UTF-8''Pr%C3%BCf%20%22bericht%22%20100%25.pdf" in header
    assert content_disposition("報告書") == (
        "attachment; filename=\"evidence\"; filename*=UTF-8''%E5%A0%B1%E5%91%8A%E6%9B%B8")
