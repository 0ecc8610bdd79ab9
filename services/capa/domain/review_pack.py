"""The management-review data pack (ISO 9001 9.3.2): its shape, its digest, its CSV.

The pack is assembled by service.review_pack as plain JSON-ready data; here are
the rules that do not need the database: the previous period, the comparison
rows, the SHA-256 a meeting record cites, and the CSV export.
"""

import csv
import hashlib
import io
import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from .review_labels import moment, period_text, shown

# The figures compared with the previous period, in the order the pack lists them.
# Open and overdue CAPAs are counted at each period's end (domain.objectives.measure);
# the rest are flows within the period (domain.review.summarize).
COMPARED: Sequence[tuple[str, str]] = (
    ("opened_in_period", "CAPAs opened"),
    ("closed_in_period", "CAPAs closed"),
    ("median_days_to_close", "Median days to close"),
    ("effectiveness_checks", "Effectiveness verifications"),
    ("effectiveness_rate", "Effectiveness rate"),
    ("reopen_rate", "Repeat (reopen) rate"),
    ("open_at_end", "Open CAPAs at the period's end"),
    ("overdue_at_end", "Overdue CAPAs at the period's end"),
)

def previous_period(since: datetime, until: datetime) -> tuple[datetime, datetime]:
    """The period of the same length just before ``[since, until)``; empty for an
    empty period, and starting at the calendar's beginning when it would run past it."""
    length = max(until - since, timedelta(0))
    try:
        return since - length, since
    except OverflowError:
        return datetime.min.replace(tzinfo=since.tzinfo), since


def _change(current: Any, previous: Any) -> float | None:
    if isinstance(current, int | float) and isinstance(previous, int | float):
        return round(current - previous, 4)
    return None


def comparison(current: Mapping[str, Any], previous: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"figure": key, "label": label, "current": current.get(key),
             "previous": previous.get(key),
             "change": _change(current.get(key), previous.get(key))}
            for key, label in COMPARED]


def canonical_json(pack: Mapping[str, Any]) -> bytes:
    """The bytes the digest covers: sorted keys, no spaces, UTF-8, without ``sha256``."""
    body = {k: v for k, v in pack.items() if k != "sha256"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode()


def pack_digest(pack: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(pack)).hexdigest()


# A cell a spreadsheet would run as a formula (=, +, -, @, or a tab/CR first) gets a
# leading apostrophe: lesson texts come from people and must stay text (OWASP's
# CSV-injection advice).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        value = "; ".join(str(v) for v in value)
    text = str(value)
    if text.startswith(_FORMULA_START) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# Each section: its title, then (column header, key in each item).
SECTIONS: Sequence[tuple[str, str, Sequence[tuple[str, str]]]] = (
    ("comparison", "Figures: this period and the previous one",
     (("figure", "label"), ("this period", "current"), ("previous period", "previous"),
      ("change", "change"))),
    ("objectives", "Quality objectives",
     (("objective", "title"), ("metric", "metric"), ("direction", "direction"),
      ("target", "target"), ("deadline", "deadline"), ("current", "current"),
      ("state", "state"), ("why", "reason"))),
    ("open_capas", "Open CAPAs",
     (("number", "number"), ("title", "title"), ("status", "status"),
      ("severity", "severity"), ("owner", "owner"), ("due", "due_date"),
      ("overdue", "overdue"))),
    ("open_actions", "Open actions",
     (("CAPA", "capa_number"), ("kind", "kind"), ("action", "description"),
      ("owner", "owner"), ("due", "due_date"), ("overdue", "overdue"))),
    ("lessons", "Lessons learned in the period",
     (("CAPA", "capa_number"), ("title", "title"), ("root cause", "root_cause"),
      ("category", "cause_category"), ("do differently", "what_to_do_differently"),
      ("tags", "tags"), ("published", "published_at"))),
    ("supplier_scorecards", "Supplier scorecards (ISO 9001 8.4), most in need of attention first",
     (("rank", "rank"), ("code", "supplier_code"), ("supplier", "name"),
      ("criticality", "criticality"), ("NCs", "nonconformities"), ("repeat rate", "repeat_rate"),
      ("SCARs sent", "scars_sent"), ("median response days", "median_response_days"),
      ("on-time closure", "on_time_closure"), ("open items", "open_items"))),
)


def section_items(pack: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    """The rows of one section (objectives flattened with their progress)."""
    value = pack.get(key)
    if isinstance(value, Mapping):
        value = value.get("items", [])
    items = list(value or [])
    if key == "objectives":
        return [{**o, **{k: o.get("progress", {}).get(k) for k in ("current", "state",
                                                                    "reason")}}
                for o in items]
    return items


def pack_csv(pack: Mapping[str, Any]) -> str:
    """One CSV, a block per section (a title row, a header row, the rows), blank
    lines between; the first rows name the period (its first and last day, as the
    page shows it) and the pack's SHA-256. Values carry their labels
    (domain.review_labels): the CSV is read by people, the JSON by programs.

    It starts with a UTF-8 byte order mark: Excel reads a CSV without one in the
    machine's legacy code page, which garbles every non-ASCII name ("Müller" as
    "MÃ¼ller"); with it, Excel, LibreOffice and Python's ``utf-8-sig`` read UTF-8.
    The mark is no cell content, so the formula guard (``cell``) is unaffected."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    period = pack["period"]
    writer.writerow(["CAPAflow management-review pack"])
    first, last = period_text(period).split(" to ")
    writer.writerow(["from", first, "to (inclusive)", last])
    writer.writerow(["as of", moment(pack["as_of"]), "sha256", pack.get("sha256", "")])
    for key, title, columns in SECTIONS:
        writer.writerow([])
        writer.writerow([title])
        writer.writerow([header for header, _ in columns])
        for item in section_items(pack, key):
            writer.writerow([cell(shown(field, item)) for _, field in columns])
    return out.getvalue()
