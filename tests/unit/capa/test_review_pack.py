"""The review pack's pure parts: the previous period, the digest, the CSV cells."""

import csv
import io
from datetime import UTC, datetime

from services.capa.domain.review_pack import (
    canonical_json,
    cell,
    comparison,
    pack_csv,
    pack_digest,
    previous_period,
)


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
    pack = {"period": {"since": "2026-10-01", "until": "2027-01-01"}, "as_of": "now",
            "sha256": "ab" * 32, "comparison": comparison({"closed_in_period": 2},
                                                          {"closed_in_period": 1}),
            "objectives": [{"title": "Fast", "metric": "median_days_to_close",
                            "progress": {"current": 12.0, "state": "off_track",
                                         "reason": "slow"}}],
            "lessons": {"items": [{"capa_number": "CAPA-2026-00001",
                                   "what_to_do_differently": "+1 check"}]},
            "supplier_scorecards": {"available": False, "note": "later", "items": []}}
    rows = list(csv.reader(io.StringIO(pack_csv(pack))))
    assert rows[1] == ["since", "2026-10-01", "until", "2027-01-01"]
    assert rows[2][3] == "ab" * 32
    assert ["CAPAs closed", "2", "1", "1"] in rows
    assert ["Fast", "median_days_to_close", "", "", "", "12.0", "off_track", "slow"] in rows
    lesson = next(r for r in rows if r and r[0] == "CAPA-2026-00001")
    assert lesson[4] == "'+1 check"
    assert ["later"] in rows
