"""The review pack's pure parts: the previous period, the digest, the CSV cells."""

import csv
import io
from datetime import UTC, datetime
from typing import Any

import pypdfium2 as pdfium

from services.capa.domain.review_pack import (
    canonical_json,
    cell,
    comparison,
    pack_csv,
    pack_digest,
    previous_period,
)
from services.capa.service.review_pdf import pack_pdf


def test_the_previous_period_has_the_same_length_and_ends_where_this_one_starts() -> None:
    since, until = datetime(2026, 10, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    assert previous_period(since, until) == (datetime(2026, 7, 1, tzinfo=UTC), since)  # 92 days
    assert previous_period(until, since) == (until, until)  # an empty period
    early = datetime(1900, 1, 1, tzinfo=UTC)
    assert previous_period(early, datetime(9998, 1, 1, tzinfo=UTC))[0].year == 1


def test_the_digest_covers_everything_but_itself_in_canonical_form() -> None:
    pack = {"b": 1, "a": "é", "sha256": "ignored"}
    assert canonical_json(pack) == '{"a":"é","b":1}'.encode()
    assert pack_digest(pack) == pack_digest({"a": "é", "b": 1})
    assert pack_digest(pack) != pack_digest({"a": "e", "b": 1})


def test_comparison_rows_show_the_change_only_between_numbers() -> None:
    rows = {r["figure"]: r for r in comparison({"closed_in_period": 4, "reopen_rate": None},
                                               {"closed_in_period": 1, "reopen_rate": 0.5})}
    assert rows["closed_in_period"]["change"] == 3
    assert rows["reopen_rate"]["change"] is None


def test_cells_that_a_spreadsheet_would_run_stay_text() -> None:
    assert cell("=SUM(A1:A9)") == "'=SUM(A1:A9)"
    assert cell("@cmd") == "'@cmd"
    assert cell("-3.5") == "-3.5"  # a number stays a number
    assert cell(["seals", "specs"]) == "seals; specs"
    assert cell(None) == ""


def test_the_csv_has_a_block_per_section_after_the_period_and_digest() -> None:
    pack = {"period": {"since": "2026-10-01T00:00:00Z", "until": "2027-01-01T00:00:00Z"},
            "as_of": "now",
            "sha256": "ab" * 32, "comparison": comparison({"closed_in_period": 2},
                                                          {"closed_in_period": 1}),
            "objectives": [{"title": "Fast", "metric": "median_days_to_close",
                            "progress": {"current": 12.0, "state": "off_track",
                                         "reason": "slow"}}],
            "lessons": {"items": [{"capa_number": "CAPA-2026-00001",
                                   "what_to_do_differently": "+1 check"}]},
            "supplier_scorecards": {"items": [{
                "rank": 1, "supplier_code": "acme-seals", "name": "Acme", "criticality": "high",
                "nonconformities": 3, "repeat_rate": 0.5, "scars_sent": 1,
                "median_response_days": 4.0, "on_time_closure": 1.0, "open_items": 2}]}}
    rows = list(csv.reader(io.StringIO(pack_csv(pack))))
    assert rows[1] == ["from", "2026-10-01", "to (inclusive)", "2026-12-31"]
    assert rows[2][3] == "ab" * 32
    assert ["CAPAs closed", "2", "1", "1"] in rows
    assert ["Fast", "Median days to close", "", "", "", "12.0", "Off track", "slow"] in rows
    lesson = next(r for r in rows if r and r[0] == "CAPA-2026-00001")
    assert lesson[4] == "'+1 check"
    assert ["1", "acme-seals", "Acme", "High", "3", "50.0 %", "1", "4.0", "100.0 %", "2"] in rows


def _people_pack() -> dict[str, Any]:
    """A pack with every machine value the CSV and PDF must show by its label."""
    return {
        "period": {"since": "2026-11-01T00:00:00Z", "until": "2026-12-01T00:00:00Z"},
        "previous_period": {"since": "2026-10-02T00:00:00Z",
                            "until": "2026-11-01T00:00:00Z"},
        "as_of": "2026-12-01T09:00:00Z", "sha256": "ab" * 32,
        "comparison": comparison({"effectiveness_rate": 1.0, "reopen_rate": 0.0},
                                 {"effectiveness_rate": 0.5, "reopen_rate": None}),
        "objectives": [{"title": "Fewer new CAPAs", "metric": "capas_opened_per_week",
                        "unit": "per_week", "direction": "at_most", "target": 2,
                        "deadline": "2027-03-31",
                        "progress": {"current": 1.5, "state": "on_track", "reason": None}}],
        "open_capas": {"items": [{"number": "CAPA-2026-00007", "title": "Seals",
                                  "status": "implementing", "severity": "major",
                                  "owner": "ops", "due_date": "2026-11-20",
                                  "overdue": True}], "total": 1, "truncated": False},
        "open_actions": {"items": [{"capa_number": "CAPA-2026-00007", "kind": "correction",
                                    "description": "Swap", "owner": "ops",
                                    "due_date": "2026-12-20", "overdue": False}],
                         "total": 1, "truncated": False},
        "lessons": {"items": [{"capa_number": "CAPA-2026-00003", "title": "Worn die",
                               "root_cause": "wear", "cause_category": "equipment_technology",
                               "what_to_do_differently": "inspect", "tags": [],
                               "published_at": "2026-11-10T00:00:00Z"}],
                    "total": 1, "truncated": False},
        "supplier_scorecards": {"items": []},
    }


RAW = ("capas_opened_per_week", "capas_opened_per_wee", "at_most", "on_track",
       "implementing", "major", "correction", "equipment_technology", "True", "False",
       "2026-12-01T00:00:00Z")
LABELS = ("CAPAs opened per week", "at most", "On track", "Implementing", "Major",
          "Correction (immediate fix)", "Equipment and technology", "yes", "no",
          "100.0 %", "50.0 points up", "0.0 %", "2026-11-01 to 2026-11-30")


def test_the_csv_shows_labels_not_machine_values() -> None:
    text = pack_csv(_people_pack())
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[1] == ["from", "2026-11-01", "to (inclusive)", "2026-11-30"]
    assert ["Effectiveness rate", "100.0 %", "50.0 %", "50.0 points up"] in rows
    assert ["Fewer new CAPAs", "CAPAs opened per week", "at most", "2", "2027-03-31", "1.5",
            "On track", ""] in rows
    for raw in RAW:
        assert raw not in text, raw
    for label in LABELS[:-1]:
        assert label in text, label


def test_the_pdf_shows_labels_not_machine_values_and_keeps_words_whole() -> None:
    document = pdfium.PdfDocument(pack_pdf(_people_pack()))
    try:
        text = "\n".join(document[i].get_textpage().get_text_range()
                         for i in range(len(document)))
    finally:
        document.close()
    words = " ".join(text.split())  # lines broken in a cell join with a space
    for raw in RAW:
        assert raw not in words, raw
    for label in LABELS:
        assert label in words, label
