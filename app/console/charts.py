"""Small charts as inline SVG, made on the server: no chart library, no script.

Every label is escaped here and colours are SVG attributes (not inline CSS), so the
console's Content-Security-Policy (no inline styles or scripts) holds. Each chart has
a ``<title>`` and an ``aria-label`` saying what it shows.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

ACCENT = "#ff4d2d"
INK = "#1d1f23"
MUTED = "#8a9099"


def _f(x: float) -> str:
    return f"{x:.1f}"


def _svg(width: int, height: int, title: str, body: str, css_class: str) -> Markup:
    return Markup(
        f'<svg class="{css_class}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}"'
        f' role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>{body}</svg>'
    )


def sparkline(values: Sequence[float | None], *, title: str, width: int = 220, height: int = 44, color: str = ACCENT) -> Markup:
    """A line over the values, oldest first; gaps (None) break the line; the last point is marked."""
    pad = 4
    known = [v for v in values if v is not None]
    if not known:
        return _svg(width, height, title, f'<line x1="{pad}" y1="{height / 2}" x2="{width - pad}" y2="{height / 2}" stroke="{MUTED}" stroke-dasharray="3 3"/>', "chart spark")
    lo, hi = min(known), max(known)
    n = len(values)

    def x(i: int) -> float:
        return pad + (width - 2 * pad) * (i / (n - 1) if n > 1 else 0.5)

    def y(v: float) -> float:
        return height / 2 if hi == lo else pad + (height - 2 * pad) * (1 - (v - lo) / (hi - lo))

    segments: list[list[tuple[float, float]]] = [[]]
    for i, v in enumerate(values):
        if v is None:
            if segments[-1]:
                segments.append([])
        else:
            segments[-1].append((x(i), y(v)))
    parts = []
    for seg in segments:
        if len(seg) == 1:
            parts.append(f'<circle cx="{_f(seg[0][0])}" cy="{_f(seg[0][1])}" r="1.8" fill="{color}"/>')
        elif seg:
            points = " ".join(f"{_f(px)},{_f(py)}" for px, py in seg)
            parts.append(f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="1.8" stroke-linejoin="round"/>')
    last = max(i for i, v in enumerate(values) if v is not None)
    parts.append(f'<circle cx="{_f(x(last))}" cy="{_f(y(values[last]))}" r="3" fill="{color}"/>')  # type: ignore[arg-type]
    return _svg(width, height, title, "".join(parts), "chart spark")


def hbars(rows: Sequence[tuple[str, float, str]], *, title: str, width: int = 420, row_height: int = 24, label_width: int = 120) -> Markup:
    """Horizontal bars: (label, value, the value as text) per row, scaled to the largest."""
    top = max((v for _, v, _ in rows), default=0) or 1
    bar_room = width - label_width - 70
    parts = []
    for i, (label, value, text) in enumerate(rows):
        cy = i * row_height
        w = max(bar_room * value / top, 0 if value <= 0 else 1.5)
        parts.append(
            f'<text x="{label_width - 8}" y="{cy + row_height * 0.68:.1f}" text-anchor="end" font-size="12" fill="{INK}">{escape(label)}</text>'
            f'<rect x="{label_width}" y="{cy + 4}" width="{_f(w)}" height="{row_height - 8}" rx="3" fill="{ACCENT}"/>'
            f'<text x="{label_width + w + 6:.1f}" y="{cy + row_height * 0.68:.1f}" font-size="12" fill="{MUTED}">{escape(text)}</text>'
        )
    return _svg(width, row_height * len(rows), title, "".join(parts), "chart bars")


def heat_grid(
    grid: Sequence[Sequence[int]], *, row_labels: Sequence[str], col_labels: Sequence[str], title: str, corner: str = "", cell: int = 46
) -> Markup:
    """A table of counts as shaded cells, each with its number; rows top to bottom as given."""
    left, head = 56, 26
    top = max((v for row in grid for v in row), default=0) or 1
    parts = [f'<text x="4" y="{head - 9}" font-size="11" fill="{MUTED}">{escape(corner)}</text>']
    for j, label in enumerate(col_labels):
        parts.append(f'<text x="{left + j * cell + cell / 2}" y="{head - 9}" text-anchor="middle" font-size="12" fill="{MUTED}">{escape(label)}</text>')
    for i, row in enumerate(grid):
        y0 = head + i * cell
        parts.append(f'<text x="{left - 8}" y="{y0 + cell / 2 + 4}" text-anchor="end" font-size="12" fill="{MUTED}">{escape(row_labels[i])}</text>')
        for j, value in enumerate(row):
            strength = value / top
            parts.append(
                f'<rect x="{left + j * cell + 1}" y="{y0 + 1}" width="{cell - 2}" height="{cell - 2}" rx="4" fill="{ACCENT}"'
                f' fill-opacity="{0.06 + 0.9 * strength:.3f}"><title>{escape(row_labels[i])} · {escape(col_labels[j])}: {value}</title></rect>'
                f'<text x="{left + j * cell + cell / 2}" y="{y0 + cell / 2 + 4}" text-anchor="middle" font-size="12"'
                f' fill="{"#ffffff" if strength > 0.55 else INK}">{value}</text>'
            )
    width = left + cell * len(col_labels) + 4
    return _svg(width, head + cell * len(grid) + 2, title, "".join(parts), "chart heat")


SERIES = (ACCENT, "#2d6cdf", "#2a9d5b", "#9b51e0", "#d4a017")  # one colour per variant, control first


def lines(series: Sequence[tuple[str, Sequence[float | None]]], *, title: str, width: int = 560, height: int = 200) -> Markup:
    """Several lines over the same days (one per variant), on one shared scale, with a legend."""
    left, bottom, top_pad, legend = 44, 22, 8, 18
    known = [v for _, values in series for v in values if v is not None]
    hi = max(known, default=0.0) or 1.0
    n = max((len(values) for _, values in series), default=0)
    plot_w, plot_h = width - left - 8, height - bottom - top_pad - legend

    def x(i: int) -> float:
        return left + plot_w * (i / (n - 1) if n > 1 else 0.5)

    def y(v: float) -> float:
        return top_pad + legend + plot_h * (1 - v / hi)

    parts = [
        f'<line x1="{left}" y1="{_f(y(0))}" x2="{width - 8}" y2="{_f(y(0))}" stroke="{MUTED}" stroke-width="0.8"/>',
        f'<text x="{left - 6}" y="{_f(y(hi) + 4)}" text-anchor="end" font-size="11" fill="{MUTED}">{hi:.1%}</text>',
        f'<text x="{left - 6}" y="{_f(y(0) + 4)}" text-anchor="end" font-size="11" fill="{MUTED}">0</text>',
        f'<text x="{left}" y="{height - 6}" font-size="11" fill="{MUTED}">{escape("day 0")}</text>',
        f'<text x="{width - 8}" y="{height - 6}" text-anchor="end" font-size="11" fill="{MUTED}">{escape(f"day {max(n - 1, 0)}")}</text>',
    ]
    for k, (label, values) in enumerate(series):
        color = SERIES[k % len(SERIES)]
        parts.append(f'<rect x="{left + k * 120}" y="2" width="10" height="10" rx="2" fill="{color}"/>'
                     f'<text x="{left + k * 120 + 14}" y="11" font-size="11" fill="{INK}">{escape(label)}</text>')
        points = [(x(i), y(v)) for i, v in enumerate(values) if v is not None]
        if len(points) == 1:
            parts.append(f'<circle cx="{_f(points[0][0])}" cy="{_f(points[0][1])}" r="2.5" fill="{color}"/>')
        elif points:
            path = " ".join(f"{_f(px)},{_f(py)}" for px, py in points)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2" stroke-linejoin="round"/>')
    return _svg(width, height, title, "".join(parts), "chart lines")


def intervals(rows: Sequence[tuple[str, float | None, float | None, float | None]], *, title: str, width: int = 560, row_height: int = 30) -> Markup:
    """Each row's point estimate with its interval on one axis centred on 0 (no change);
    a row whose interval is unknown shows its label only."""
    label_w, pad = 130, 14
    spans = [abs(v) for _, p, lo, hi in rows for v in (p, lo, hi) if v is not None]
    reach = max(spans, default=0.0) or 0.1
    plot_w = width - label_w - 2 * pad

    def x(v: float) -> float:
        return label_w + pad + plot_w * (v + reach) / (2 * reach)

    height = row_height * len(rows) + 22
    parts = [
        f'<line x1="{_f(x(0))}" y1="0" x2="{_f(x(0))}" y2="{height - 18}" stroke="{MUTED}" stroke-dasharray="3 3"/>',
        f'<text x="{_f(x(-reach))}" y="{height - 4}" font-size="11" fill="{MUTED}">{-reach:+.0%}</text>',
        f'<text x="{_f(x(0))}" y="{height - 4}" text-anchor="middle" font-size="11" fill="{MUTED}">0</text>',
        f'<text x="{_f(x(reach))}" y="{height - 4}" text-anchor="end" font-size="11" fill="{MUTED}">{reach:+.0%}</text>',
    ]
    for i, (label, point, lo, hi) in enumerate(rows):
        cy = i * row_height + row_height / 2
        parts.append(f'<text x="{label_w - 6}" y="{_f(cy + 4)}" text-anchor="end" font-size="12" fill="{INK}">{escape(label)}</text>')
        if lo is not None and hi is not None:
            color = "#2a9d5b" if lo > 0 else ACCENT if hi < 0 else MUTED
            parts.append(f'<line x1="{_f(x(lo))}" y1="{_f(cy)}" x2="{_f(x(hi))}" y2="{_f(cy)}" stroke="{color}" stroke-width="3" stroke-linecap="round"/>')
        if point is not None:
            parts.append(f'<circle cx="{_f(x(point))}" cy="{_f(cy)}" r="4.5" fill="{INK}"><title>{escape(label)}: {point:+.2%}</title></circle>')
    return _svg(width, height, title, "".join(parts), "chart intervals")
