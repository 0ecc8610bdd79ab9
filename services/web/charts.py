"""Inline SVG charts for the management review: data in, SVG markup out.

Pure functions without framework imports, so they are tested on their output
alone. Every text that reaches the markup is escaped (labels come from API data
that people typed: categories, sources). Charts are drawn with presentation
attributes only, never ``style=""``: the UI's Content-Security-Policy forbids
inline styles. Each chart is ``<svg role="img">`` named by its ``<title>`` and
``<desc>``; the pages show the same figures as a table for screen readers.
"""

import math
from collections.abc import Sequence
from html import escape

WIDTH, HEIGHT = 640, 300
LEFT, RIGHT, TOP, BOTTOM = 48, 48, 16, 64
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
BASE_Y = TOP + PLOT_H
# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
           "#000000")
BAR = PALETTE[0]
LINE = "#D55E00"
LABEL_CHARS = 14
# A lone bar as wide as the plot reads as a wall, not a bar.
MAX_BAR_W = 72


def _t(text: object) -> str:
    return escape(str(text), quote=True)


def _num(value: float) -> str:
    # Coordinates to two decimals: exact enough, and stable for tests to compare.
    return f"{round(value, 2):g}"


def _short(label: str) -> str:
    # Cut before escaping, so an entity is never cut in half.
    return label if len(label) <= LABEL_CHARS else label[:LABEL_CHARS - 1] + "…"


def axis_top(largest: float) -> tuple[float, float]:
    """A round top for the value axis and its tick step (1, 2 or 5 times a power of 10; counts
    are whole numbers, so the step is at least 1)."""
    if largest <= 0:
        return 1.0, 1.0
    rough = largest / 4
    power = 10 ** math.floor(math.log10(rough)) if rough >= 1 else 1
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= rough)
    step = max(step, 1)
    return math.ceil(largest / step) * step, step


def _open(chart_id: str, title: str, desc: str) -> list[str]:
    cid = _t(chart_id)
    # Drawn at its own size (text stays legible); CSS shrinks it on narrow screens.
    return [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" '
            f'width="{WIDTH}" height="{HEIGHT}" aria-labelledby="{cid}-title {cid}-desc" '
            f'class="chart">',
            f'<title id="{cid}-title">{_t(title)}</title>',
            f'<desc id="{cid}-desc">{_t(desc)}</desc>']


def _empty(chart_id: str, title: str) -> str:
    parts = _open(chart_id, title, "No data for this period.")
    parts.append(f'<text x="{WIDTH / 2:g}" y="{HEIGHT / 2:g}" text-anchor="middle" '
                 f'class="empty">No data for this period</text></svg>')
    return "".join(parts)


def _value_axis(top: float, step: float) -> list[str]:
    parts = ['<g class="axis" aria-hidden="true">']
    tick = 0.0
    while tick <= top + 1e-9:
        y = BASE_Y - tick / top * PLOT_H
        parts.append(f'<line x1="{LEFT}" x2="{LEFT + PLOT_W}" y1="{_num(y)}" y2="{_num(y)}" '
                     f'stroke="#d5dae0" stroke-width="1"/>'
                     f'<text x="{LEFT - 6}" y="{_num(y + 4)}" text-anchor="end">{tick:g}</text>')
        tick += step
    parts.append("</g>")
    return parts


def _category_labels(labels: Sequence[str], band: float) -> list[str]:
    # With many columns only every other label fits; the table has them all.
    every = 2 if len(labels) > 16 else 1
    parts = ['<g class="labels" aria-hidden="true">']
    for i, label in enumerate(labels):
        if i % every:
            continue
        x = LEFT + band * (i + 0.5)
        parts.append(f'<text x="{_num(x)}" y="{BASE_Y + 16}" text-anchor="middle">'
                     f'{_t(_short(label))}</text>')
    parts.append("</g>")
    return parts


def _bar(i: int, band: float, value: float, top: float, tip: str, fill: str,
         base: float = 0.0) -> str:
    """Column ``i`` of ``band`` px, centred in its band."""
    width = min(band * 0.7, MAX_BAR_W)
    x = LEFT + band * (i + 0.5) - width / 2
    y0 = BASE_Y - base / top * PLOT_H
    height = value / top * PLOT_H
    return (f'<rect class="bar" x="{_num(x)}" y="{_num(y0 - height)}" width="{_num(width)}" '
            f'height="{_num(height)}" fill="{fill}" data-value="{value:g}">'
            f'<title>{_t(tip)}</title></rect>')


def bar_chart(items: Sequence[tuple[str, int]], *, chart_id: str, title: str,
              unit: str = "") -> str:
    """One bar per (label, count), heights proportional to the counts."""
    if not items or not any(count for _, count in items):
        return _empty(chart_id, title)
    desc = "; ".join(f"{label}: {count}{unit}" for label, count in items)
    top, step = axis_top(max(count for _, count in items))
    band = PLOT_W / len(items)
    parts = _open(chart_id, title, desc) + _value_axis(top, step)
    parts.append('<g class="bars">')
    for i, (label, count) in enumerate(items):
        parts.append(_bar(i, band, count, top, f"{label}: {count}{unit}", BAR))
    parts.append("</g>")
    parts += _category_labels([label for label, _ in items], band)
    parts.append("</svg>")
    return "".join(parts)


def pareto_chart(rows: Sequence[tuple[str, int, float]], *, chart_id: str, title: str) -> str:
    """Bars of (label, count) largest first, and the cumulative percentage as a line
    on a 0-100 % axis at the right (the 80 % mark drawn for the eye)."""
    if not rows or not any(count for _, count, _ in rows):
        return _empty(chart_id, title)
    desc = "; ".join(f"{label}: {count} (cumulative {pct:g}%)" for label, count, pct in rows)
    top, step = axis_top(max(count for _, count, _ in rows))
    band = PLOT_W / len(rows)
    parts = _open(chart_id, title, desc) + _value_axis(top, step)
    parts.append('<g class="bars">')
    for i, (label, count, pct) in enumerate(rows):
        parts.append(_bar(i, band, count, top, f"{label}: {count} (cumulative {pct:g}%)", BAR))
    parts.append("</g>")
    right = LEFT + PLOT_W
    parts.append('<g class="percent-axis" aria-hidden="true">')
    for pct in (0, 50, 80, 100):
        y = BASE_Y - pct / 100 * PLOT_H
        parts.append(f'<text x="{right + 6}" y="{_num(y + 4)}">{pct}%</text>')
    y80 = BASE_Y - 0.8 * PLOT_H
    parts.append(f'<line x1="{LEFT}" x2="{right}" y1="{_num(y80)}" y2="{_num(y80)}" '
                 f'stroke="{LINE}" stroke-width="1" stroke-dasharray="4 4"/></g>')
    points = [(LEFT + band * (i + 0.5), BASE_Y - min(max(pct, 0), 100) / 100 * PLOT_H)
              for i, (_, _, pct) in enumerate(rows)]
    parts.append(f'<polyline class="cumulative" fill="none" stroke="{LINE}" stroke-width="2" '
                 f'points="{" ".join(f"{_num(x)},{_num(y)}" for x, y in points)}"/>')
    parts += [f'<circle cx="{_num(x)}" cy="{_num(y)}" r="3" fill="{LINE}"/>' for x, y in points]
    parts += _category_labels([label for label, _, _ in rows], band)
    parts.append("</svg>")
    return "".join(parts)


def stacked_bar_chart(categories: Sequence[str], series: Sequence[tuple[str, Sequence[int]]],
                      *, chart_id: str, title: str) -> str:
    """One column per category (e.g. week), stacked by series (e.g. source), with a
    legend. ``series`` is (name, one value per category)."""
    totals = [sum(values[i] for _, values in series) for i in range(len(categories))]
    if not categories or not any(totals):
        return _empty(chart_id, title)
    desc = "; ".join(
        f"{cat}: {total}" + (" (" + ", ".join(f"{name} {values[i]}" for name, values in series
                                             if values[i]) + ")" if total else "")
        for i, (cat, total) in enumerate(zip(categories, totals, strict=True)))
    top, step = axis_top(max(totals))
    band = PLOT_W / len(categories)
    parts = _open(chart_id, title, desc) + _value_axis(top, step)
    for s, (name, values) in enumerate(series):
        colour = PALETTE[s % len(PALETTE)]
        parts.append(f'<g class="series" data-series="{_t(name)}">')
        for i, cat in enumerate(categories):
            if values[i]:
                below = sum(v[i] for _, v in series[:s])
                parts.append(_bar(i, band, values[i], top,
                                  f"{cat}, {name}: {values[i]}", colour, base=below))
        parts.append("</g>")
    parts += _category_labels(categories, band)
    parts.append('<g class="legend" aria-hidden="true">')
    x = float(LEFT)
    for s, (name, _) in enumerate(series):
        colour = PALETTE[s % len(PALETTE)]
        shown = _short(name)
        parts.append(f'<rect x="{_num(x)}" y="{HEIGHT - 22}" width="10" height="10" '
                     f'fill="{colour}"/><text x="{_num(x + 14)}" y="{HEIGHT - 13}">'
                     f'{_t(shown)}</text>')
        x += 24 + 7 * len(shown)
    parts.append("</g></svg>")
    return "".join(parts)
