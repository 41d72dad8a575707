"""Small inline SVG charts drawn by hand (no libraries, no network, no script)."""

from __future__ import annotations

from html import escape

FONT = "'Noto Sans CJK SC','Source Han Sans SC','PingFang SC','Microsoft YaHei','SimHei',sans-serif"
COLORS = ("#c0392b", "#e6a23c", "#2e86c1", "#7f8c8d")


def _text_width(s: str, size: float) -> float:
    """Approximate rendered width: CJK characters are square, others about half."""
    return sum(size if ord(ch) > 0x2E80 else size * 0.58 for ch in s)


def _fmt(v: float, money: bool) -> str:
    if money:
        return f"¥{v:,.0f}"
    return f"{int(round(v)):,}"


def hbar(
    rows: list[tuple[str, list[float]]],
    series: list[str],
    *,
    money: bool = False,
    width: int = 760,
    title: str = "",
) -> str:
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
    value_w = _text_width(_fmt(vmax, money), size) + 40
    plot_w = max(width - label_w - value_w, 80)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(title)}" font-family="{escape(FONT)}" font-size="{size}">'
    ]
    if title:
        parts.append(f"<title>{escape(title)}</title>")
    if legend_h:
        x = label_w
        for i, name in enumerate(series):
            parts.append(f'<rect x="{x:.1f}" y="6" width="12" height="12" fill="{COLORS[i % len(COLORS)]}"/>')
            parts.append(f'<text x="{x + 16:.1f}" y="16">{escape(name)}</text>')
            x += 16 + _text_width(name, size) + 18
    for r, (label, values) in enumerate(rows):
        y = top + r * (bar_h + gap)
        parts.append(
            f'<text x="{label_w - 8:.1f}" y="{y + bar_h - 4}" text-anchor="end">{escape(label)}</text>'
        )
        x = label_w
        for i, v in enumerate(values):
            w = plot_w * v / vmax
            if w > 0:
                tip = f"{label} · {series[i]}：{_fmt(v, money)}"
                parts.append(
                    f'<rect x="{x:.1f}" y="{y}" width="{max(w, 1):.1f}" height="{bar_h}" '
                    f'fill="{COLORS[i % len(COLORS)]}"><title>{escape(tip)}</title></rect>'
                )
                x += w
        parts.append(f'<text x="{x + 6:.1f}" y="{y + bar_h - 4}" fill="#333">{escape(_fmt(totals[r], money))}</text>')
    parts.append("</svg>")
    return "".join(parts)


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
