"""The SVG charts: accessible names, bars proportional to the data, the Pareto's
cumulative line, hostile labels escaped, and empty data drawn as "no data"."""

import xml.etree.ElementTree as ET

import pytest

from services.web import charts

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = '<script>alert("x")</script> & \'quoted\''


def parse(markup: str) -> ET.Element:
    # Well-formed XML is the first proof that no label broke out of its element.
    return ET.fromstring(markup)


def bars(root: ET.Element) -> list[ET.Element]:
    return [r for r in root.iter(f"{SVG}rect") if r.get("class") == "bar"]


def assert_accessible(root: ET.Element, title: str) -> None:
    assert root.get("role") == "img"
    title_el, desc_el = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title_el is not None and desc_el is not None
    assert title_el.text == title and desc_el.text
    assert root.get("aria-labelledby") == f"{title_el.get('id')} {desc_el.get('id')}"


def test_bar_heights_are_proportional_and_share_a_baseline() -> None:
    root = parse(charts.bar_chart([("0-30", 8), ("31-60", 4), ("61-90", 0), ("91+", 2)],
                                  chart_id="aging", title="Open CAPAs by age",
                                  unit=" open"))
    assert_accessible(root, "Open CAPAs by age")
    found = bars(root)
    assert [b.get("data-value") for b in found] == ["8", "4", "0", "2"]
    heights = [float(b.get("height", "")) for b in found]
    assert heights[0] > 0
    for height, count in zip(heights, (8, 4, 0, 2), strict=True):
        assert height == pytest.approx(heights[0] * count / 8, abs=0.02)
    bottoms = {round(float(b.get("y", "")) + float(b.get("height", "")), 1) for b in found}
    assert bottoms == {charts.BASE_Y}
    # The tallest bar reaches the axis top chosen for 8: exactly the plot height.
    assert heights[0] == pytest.approx(charts.PLOT_H * 8 / charts.axis_top(8)[0], abs=0.02)
    assert "0-30: 8 open" in (root.find(f"{SVG}desc").text or "")  # type: ignore[union-attr]


def test_pareto_has_bars_and_a_cumulative_line_in_percent() -> None:
    rows = [("process", 6, 60.0), ("people", 3, 90.0), ("measurement", 1, 100.0)]
    root = parse(charts.pareto_chart(rows, chart_id="causes", title="Root causes"))
    assert_accessible(root, "Root causes")
    heights = [float(b.get("height", "")) for b in bars(root)]
    assert heights[1] == pytest.approx(heights[0] / 2, abs=0.02)
    assert heights[2] == pytest.approx(heights[0] / 6, abs=0.02)
    line = next(p for p in root.iter(f"{SVG}polyline") if p.get("class") == "cumulative")
    points = [tuple(map(float, p.split(","))) for p in (line.get("points") or "").split()]
    assert len(points) == 3
    # y of a percentage: the baseline minus that share of the plot height.
    for (_, y), pct in zip(points, (60, 90, 100), strict=True):
        assert y == pytest.approx(charts.BASE_Y - pct / 100 * charts.PLOT_H, abs=0.02)
    # Each point sits over the middle of its bar.
    for (x, _), bar in zip(points, bars(root), strict=True):
        assert x == pytest.approx(float(bar.get("x", "")) + float(bar.get("width", "")) / 2,
                                  abs=0.02)
    desc = root.find(f"{SVG}desc").text or ""  # type: ignore[union-attr]
    assert "process: 6 (cumulative 60%)" in desc and "measurement: 1" in desc


def test_stacked_columns_add_up_per_category() -> None:
    root = parse(charts.stacked_bar_chart(
        ["09 Nov", "16 Nov", "23 Nov"],
        [("monitoring", [10, 0, 2]), ("support", [3, 0, 2])],
        chart_id="weekly", title="NCs per week"))
    assert_accessible(root, "NCs per week")
    series = {g.get("data-series"): bars(g) for g in root.iter(f"{SVG}g")
              if g.get("class") == "series"}
    assert set(series) == {"monitoring", "support"}
    assert [b.get("data-value") for b in series["monitoring"]] == ["10", "2"]
    assert [b.get("data-value") for b in series["support"]] == ["3", "2"]
    unit = float(series["monitoring"][0].get("height", "")) / 10
    # The support part of week 1 starts where the monitoring part ends.
    top_of_monitoring = float(series["monitoring"][0].get("y", ""))
    support = series["support"][0]
    assert float(support.get("y", "")) + float(support.get("height", "")) == pytest.approx(
        top_of_monitoring, abs=0.02)
    assert float(support.get("height", "")) == pytest.approx(3 * unit, abs=0.02)
    legend = [t.text for g in root.iter(f"{SVG}g") if g.get("class") == "legend"
              for t in g.iter(f"{SVG}text")]
    assert legend == ["monitoring", "support"]
    assert "09 Nov: 13 (monitoring 10, support 3)" in (root.find(f"{SVG}desc").text or "")  # type: ignore[union-attr]


@pytest.mark.parametrize("draw", [
    lambda label: charts.bar_chart([(label, 2)], chart_id="c", title=label),
    lambda label: charts.pareto_chart([(label, 2, 100.0)], chart_id="c", title=label),
    lambda label: charts.stacked_bar_chart([label], [(label, [2])], chart_id="c", title=label),
])
def test_hostile_labels_are_escaped(draw) -> None:  # type: ignore[no-untyped-def]
    markup = draw(HOSTILE)
    assert "<script" not in markup and 'alert("x")' not in markup
    root = parse(markup)
    # The text survives as text: escaped on the way in, intact when read back.
    assert root.find(f"{SVG}title").text == HOSTILE  # type: ignore[union-attr]
    assert any(HOSTILE in (t.text or "") for t in root.iter(f"{SVG}title"))


def test_hostile_chart_id_cannot_break_the_attribute() -> None:
    markup = charts.bar_chart([("a", 1)], chart_id='x" onload="alert(1)', title="t")
    root = parse(markup)
    assert root.get("onload") is None
    assert "onload=\"alert" not in markup


@pytest.mark.parametrize("markup", [
    charts.bar_chart([], chart_id="e", title="Empty"),
    charts.bar_chart([("0-30", 0), ("31-60", 0)], chart_id="e", title="Empty"),
    charts.pareto_chart([], chart_id="e", title="Empty"),
    charts.stacked_bar_chart([], [], chart_id="e", title="Empty"),
    charts.stacked_bar_chart(["09 Nov"], [("support", [0])], chart_id="e", title="Empty"),
    charts.stacked_bar_chart(["09 Nov", "16 Nov"], [], chart_id="e", title="Empty"),
])
def test_empty_data_says_so_and_draws_no_bars(markup: str) -> None:
    root = parse(markup)
    assert_accessible(root, "Empty")
    assert bars(root) == [] and not list(root.iter(f"{SVG}polyline"))
    assert "No data for this period" in markup


def test_long_labels_are_shortened_on_the_axis_but_whole_in_the_tooltip() -> None:
    label = "equipment technology and more"
    root = parse(charts.bar_chart([(label, 1)], chart_id="l", title="t"))
    axis = [t.text for g in root.iter(f"{SVG}g") if g.get("class") == "labels"
            for t in g.iter(f"{SVG}text")]
    assert axis == [label[:charts.LABEL_CHARS - 1] + "…"]
    assert bars(root)[0].find(f"{SVG}title").text == f"{label}: 1"  # type: ignore[union-attr]


def test_axis_top_is_round_and_covers_the_largest_value() -> None:
    assert charts.axis_top(0) == (1, 1)
    assert charts.axis_top(3) == (3, 1)
    assert charts.axis_top(8) == (8, 2)
    assert charts.axis_top(23) == (30, 10)
    assert charts.axis_top(180) == (200, 50)
