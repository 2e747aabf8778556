"""The console's inline SVG charts: well-formed, escaped, faithful to their numbers."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from app.console.charts import hbars, heat_grid, sparkline

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))


def test_sparkline_points_and_gaps() -> None:
    svg = parse(sparkline([1, 2, None, 4, 5], title="a <b>", width=100, height=20))
    assert svg.find(f"{SVG}title").text == "a <b>"  # escaped in the markup, the text itself
    lines = svg.findall(f"{SVG}polyline")
    assert [len(line.get("points").split()) for line in lines] == [2, 2]  # the gap splits the line
    # the highest value is at the top, the lowest at the bottom
    ys = [float(p.split(",")[1]) for line in lines for p in line.get("points").split()]
    assert ys[0] == max(ys) and ys[-1] == min(ys)


def test_sparkline_of_nothing_or_a_flat_series() -> None:
    assert parse(sparkline([None, None], title="none")).find(f"{SVG}line") is not None
    flat = parse(sparkline([3, 3, 3], title="flat", height=20))
    assert {p.split(",")[1] for p in flat.find(f"{SVG}polyline").get("points").split()} == {"10.0"}
    assert parse(sparkline([7], title="one")).find(f"{SVG}circle") is not None


def test_bars_scale_to_the_largest_and_escape_labels() -> None:
    markup = hbars([("<x>", 10, "10"), ("b", 5, "5"), ("c", 0, "0")], title="t", width=300, label_width=100)
    assert "&lt;x&gt;" in str(markup)
    widths = [float(r.get("width")) for r in parse(markup).findall(f"{SVG}rect")]
    assert widths[0] == 2 * widths[1] and widths[2] == 0


def test_heat_grid_shades_by_count() -> None:
    svg = parse(heat_grid([[0, 4], [2, 1]], row_labels=["r1", "r2"], col_labels=["c1", "c2"], title="grid"))
    rects = svg.findall(f"{SVG}rect")
    opacity = [float(r.get("fill-opacity")) for r in rects]
    assert opacity[1] == max(opacity) and opacity[0] == min(opacity)
    assert "r2 · c1: 2" in [r.find(f"{SVG}title").text for r in rects]
