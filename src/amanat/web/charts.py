"""Charts for the public portal, drawn on the server as inline SVG (no script, no CDN).

Each chart carries a <title> and an aria-label summarising it, and the pages show the same
numbers in a table, so the figures are readable without the picture.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

from markupsafe import Markup

WIDTH = 640
HEIGHT = 240
LEFT = 96  # room for the value axis labels
BOTTOM = 44  # room for the category labels
TOP = 16
PALETTE = ("#1f6f5c", "#2f5d8a", "#b5651d", "#6a4c93", "#8a8a2f", "#a23b72")


def _ticks(top: int) -> list[int]:
    """Four round steps from 0 up to at least `top`."""
    if top <= 0:
        return [0, 1]
    step = 10 ** (len(str(top)) - 1)
    for multiple in (1, 2, 2.5, 5, 10):
        if top / (step * multiple) <= 4:
            size = int(step * multiple) or 1
            break
    count = -(-top // size)
    return [size * i for i in range(count + 1)]


def bar_chart(
    points: Sequence[tuple[str, int]],
    title: str,
    value_label: Callable[[int], str],
    empty: str,
) -> Markup:
    """Vertical bars, one per (label, value), value axis from zero."""
    if not points:
        return Markup('<p class="empty">{}</p>').format(empty)
    ticks = _ticks(max(v for _, v in points))
    top = ticks[-1]
    plot_w = WIDTH - LEFT - 12
    plot_h = HEIGHT - TOP - BOTTOM
    slot = plot_w / len(points)
    bar = min(slot * 0.6, 64)
    summary = "; ".join(f"{label}: {value_label(value)}" for label, value in points)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" direction="ltr" '
        f'aria-label="{escape(title)}: {escape(summary)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for tick in ticks:
        y = TOP + plot_h - plot_h * tick / top
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - 12}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d9d9d9"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="#444">{escape(value_label(tick))}</text>'
        )
    for i, (label, value) in enumerate(points):
        h = plot_h * value / top
        x = LEFT + slot * i + (slot - bar) / 2
        y = TOP + plot_h - h
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
            f'fill="{PALETTE[i % len(PALETTE)]}"><title>{escape(label)}: '
            f"{escape(value_label(value))}</title></rect>"
            f'<text x="{x + bar / 2:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" '
            f'font-size="11" fill="#222">{escape(label)}</text>'
        )
    parts.append(
        f'<line x1="{LEFT}" x2="{WIDTH - 12}" y1="{TOP + plot_h}" y2="{TOP + plot_h}" '
        'stroke="#555"/></svg>'
    )
    return Markup("".join(parts))
