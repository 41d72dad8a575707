"""Geometry of the small inline SVG charts (no libraries, no network): the templates draw it.

:func:`hbar` lays out a horizontal stacked bar chart — label column width, bar
positions, segment widths, value labels — as plain numbers and strings; the
``hbar`` macro of ``templates/_macros.html.j2`` turns it into SVG, escaped by
Jinja2's autoescaping.
"""

from __future__ import annotations

from dataclasses import dataclass, field

FONT = "'Noto Sans CJK SC','Source Han Sans SC','PingFang SC','Microsoft YaHei','SimHei',sans-serif"
COLORS = ("#c0392b", "#e6a23c", "#2e86c1", "#7f8c8d")


def _text_width(s: str, size: float) -> float:
    """Approximate rendered width: CJK characters are square, others about half."""
    return sum(size if ord(ch) > 0x2E80 else size * 0.58 for ch in s)


def fmt_value(v: float, money: bool) -> str:
    if money:
        return f"¥{v:,.0f}"
    return f"{int(round(v)):,}"


@dataclass
class Segment:
    x: float
    width: float
    color: str
    tip: str


@dataclass
class Bar:
    y: float
    label: str
    segments: list[Segment]
    value_x: float
    value: str


@dataclass
class HBar:
    """A laid-out horizontal stacked bar chart."""

    width: int
    height: int
    size: int
    bar_h: int
    label_w: float
    title: str
    legend: list[tuple[float, str, str]] = field(default_factory=list)  # (x, color, name)
    bars: list[Bar] = field(default_factory=list)
    font: str = FONT


def hbar(rows: list[tuple[str, list[float]]], series: list[str], *, money: bool = False, width: int = 760,
         title: str = "") -> HBar:
    """A horizontal stacked bar chart: one bar per row label, one segment per series.

    ``rows`` is ``[(label, [value per series]), ...]`` in display order.
    """
    size = 13
    bar_h, gap = 18, 8
    label_w = max([_text_width(label, size) for label, _ in rows] + [40]) + 12
    legend_h = 26 if len(series) > 1 else 0
    top = legend_h + 4
    height = top + len(rows) * (bar_h + gap) + 4
    totals = [sum(v) for _, v in rows]
    vmax = max(totals + [0]) or 1
    value_w = _text_width(fmt_value(vmax, money), size) + 40
    plot_w = max(width - label_w - value_w, 80)
    chart = HBar(width=width, height=height, size=size, bar_h=bar_h, label_w=label_w, title=title)
    if legend_h:
        x = label_w
        for i, name in enumerate(series):
            chart.legend.append((x, COLORS[i % len(COLORS)], name))
            x += 16 + _text_width(name, size) + 18
    for r, (label, values) in enumerate(rows):
        y = top + r * (bar_h + gap)
        x = label_w
        segments = []
        for i, v in enumerate(values):
            w = plot_w * v / vmax
            if w > 0:
                segments.append(Segment(x, max(w, 1), COLORS[i % len(COLORS)],
                                        f"{label} · {series[i]}：{fmt_value(v, money)}"))
                x += w
        chart.bars.append(Bar(y, label, segments, x + 6, fmt_value(totals[r], money)))
    return chart


def heat_color(value: int, vmax: int) -> str:
    """Background for a matrix cell: white to deep blue by value."""
    if value <= 0 or vmax <= 0:
        return "#ffffff"
    t = min(value / vmax, 1.0) ** 0.5
    r = round(255 - t * (255 - 31))
    g = round(255 - t * (255 - 97))
    b = round(255 - t * (255 - 141))
    return f"#{r:02x}{g:02x}{b:02x}"


def text_on(bg: str) -> str:
    r, g, b = (int(bg[i : i + 2], 16) for i in (1, 3, 5))
    return "#ffffff" if (0.299 * r + 0.587 * g + 0.114 * b) < 140 else "#222222"
