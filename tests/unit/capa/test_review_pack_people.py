"""The review pack's CSV and PDF as people open them: times to the minute, a CSV
Excel reads as UTF-8, the formula guard still in place."""

import csv
import io

import pypdfium2 as pdfium

from services.capa.domain.review_labels import moment
from services.capa.domain.review_pack import pack_csv
from services.capa.service.review_pdf import pack_pdf

PACK = {
    "period": {"since": "2026-11-08T00:00:00Z", "until": "2026-12-08T00:00:00Z"},
    "previous_period": {"since": "2026-10-09T00:00:00Z", "until": "2026-11-08T00:00:00Z"},
    "as_of": "2026-12-07T14:03:27.123456Z", "sha256": "cd" * 32,
    "lessons": {"items": [{"capa_number": "CAPA-2026-00003", "title": "Dichtung Müller",
                           "what_to_do_differently": "=HYPERLINK(\"x\")",
                           "published_at": "2026-11-10T08:15:59.999999Z"}],
                "total": 1, "truncated": False},
    "supplier_scorecards": {"items": [{"rank": 1, "supplier_code": "muller",
                                       "name": "Müller GmbH"}]},
}


def test_a_moment_is_shown_to_the_minute_in_utc() -> None:
    assert moment("2026-12-07T14:03:27.123456Z") == "2026-12-07 14:03 UTC"
    assert moment("2026-12-07T15:03:00+01:00") == "2026-12-07 14:03 UTC"
    assert moment("0900-01-01T00:00:00Z") == "0900-01-01 00:00 UTC"
    assert moment("now") == "now" and moment(None) is None


def test_the_csv_starts_with_a_bom_and_shows_times_without_microseconds() -> None:
    text = pack_csv(PACK)
    assert text.startswith("\ufeffCAPAflow management-review pack")
    data = text.encode("utf-8")
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["CAPAflow management-review pack"]
    assert rows[2][:2] == ["as of", "2026-12-07 14:03 UTC"]
    lesson = next(r for r in rows if r and r[0] == "CAPA-2026-00003")
    assert lesson[-1] == "2026-11-10 08:15 UTC"
    assert lesson[4] == "'=HYPERLINK(\"x\")"  # still text, not a formula
    assert "Müller GmbH" in text
    assert ".123456" not in text and "T14:03" not in text


def test_the_pdf_shows_times_to_the_minute() -> None:
    document = pdfium.PdfDocument(pack_pdf(PACK))
    try:
        text = "\n".join(document[i].get_textpage().get_text_range()
                         for i in range(len(document)))
    finally:
        document.close()
    words = " ".join(text.split())
    assert "as of 2026-12-07 14:03 UTC" in words
    assert "2026-11-10 08:15 UTC" in words
    assert ".999999" not in words and "T08:15" not in words
