"""The review pack as a PDF (reportlab): a title block, then a table per section.

reportlab's Paragraph parses its text as markup, so every text from people (a
lesson's "<b>" or "&") is escaped before it is laid out, and characters that are
no text at all (controls, bidi overrides) are dropped: the PDF shows what was
written, never formats or reorders by it. A cell is cut at ``CELL_CHARS``: a
10 kB lesson in one table cell would not fit a page (reportlab refuses a row
taller than the frame); the JSON and CSV keep the whole text.
"""

import io
import re
import unicodedata
from collections.abc import Mapping
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import (
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from ..domain.review_labels import moment, period_text, shown
from ..domain.review_pack import SECTIONS, section_items

CELL_CHARS = 600
_STYLES = getSampleStyleSheet()
# Lines break between words; only a word longer than the cell is split
# (splitLongWords), so no cell runs off the page and labels stay whole.
_CELL = ParagraphStyle("cell", parent=_STYLES["BodyText"], fontSize=7.5, leading=9,
                       splitLongWords=1)
_HEAD = ParagraphStyle("head", parent=_CELL, fontName="Helvetica-Bold")
# A section's title never ends a page alone.
_SECTION = ParagraphStyle("section", parent=_STYLES["Heading2"], keepWithNext=1)
# Unicode categories that are no visible text: controls, format characters (the
# bidi overrides U+202A-U+202E and isolates U+2066-U+2069 among them), surrogates,
# private use, unassigned.
_NOT_TEXT = {"Cc", "Cf", "Cs", "Co", "Cn"}
_SPACES = re.compile(r"[\t\n\r\f\v]+")


def plain(value: Any, limit: int = CELL_CHARS) -> str:
    """The text of a cell, escaped for Paragraph markup and cut at ``limit``."""
    if value is None:
        return ""
    if isinstance(value, list):
        value = "; ".join(str(v) for v in value)
    if isinstance(value, bool):
        value = "yes" if value else "no"
    if isinstance(value, float):
        value = f"{value:g}"
    text = _SPACES.sub(" ", str(value))
    text = "".join(ch for ch in text if unicodedata.category(ch) not in _NOT_TEXT)
    if len(text) > limit:
        text = text[:limit].rstrip() + " [...]"
    return escape(text)


def _table(columns: list[str], rows: list[list[str]]) -> Table:
    data = [[Paragraph(plain(c), _HEAD) for c in columns]]
    data += [[Paragraph(cell, _CELL) for cell in row] for row in rows]
    table = Table(data, repeatRows=1, hAlign="LEFT",
                  colWidths=[(landscape(A4)[0] - 30 * mm) / len(columns)] * len(columns))
    table.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef6")),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#9aa5b1")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]))
    return table


def pack_pdf(pack: Mapping[str, Any]) -> bytes:
    """The pack (service.review_pack) as a landscape A4 PDF."""
    out = io.BytesIO()
    period = pack["period"]
    document = SimpleDocTemplate(
        out, pagesize=landscape(A4), leftMargin=15 * mm, rightMargin=15 * mm,
        topMargin=15 * mm, bottomMargin=15 * mm, title="Management-review pack",
        author="CAPAflow", subject=period_text(period))
    story: list[Any] = [
        Paragraph("Management-review pack (ISO 9001 9.3)", _STYLES["Title"]),
        Paragraph(plain(f"Period {period_text(period)} (both days included); previous "
                        f"period {period_text(pack['previous_period'])}; "
                        f"as of {moment(pack['as_of'])}"),
                  _STYLES["BodyText"]),
        Paragraph(plain(f"SHA-256 of the pack's JSON: {pack.get('sha256', '')}"),
                  _STYLES["BodyText"]),
    ]
    for key, title, columns in SECTIONS:
        story += [Spacer(1, 5 * mm), Paragraph(plain(title), _SECTION)]
        items = section_items(pack, key)
        section = pack.get(key)
        if isinstance(section, Mapping) and section.get("truncated"):
            story.append(Paragraph(plain(f"The first {len(items)} of {section['total']}; "
                                         f"the JSON pack holds the same."), _CELL))
        if not items:
            story.append(Paragraph("None.", _CELL))
            continue
        story.append(_table([header for header, _ in columns],
                            [[plain(shown(field, item)) for _, field in columns]
                             for item in items]))
    document.build(story)
    return out.getvalue()
