"""Server-side SVG charts (no JavaScript, no CDN): agreement over time and per annotator pair."""
from __future__ import annotations

from xml.sax.saxutils import escape

W, H, PAD = 640, 260, 44


def _frame(title: str) -> list[str]:
    return [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
            f'font-family="sans-serif" font-size="11">',
            f'<text x="{PAD}" y="18" font-size="13" font-weight="bold">{escape(title)}</text>',
            f'<line x1="{PAD}" y1="{H - PAD}" x2="{W - 10}" y2="{H - PAD}" stroke="#888"/>',
            f'<line x1="{PAD}" y1="30" x2="{PAD}" y2="{H - PAD}" stroke="#888"/>'] + [
        f'<text x="{PAD - 6}" y="{_y(v) + 4}" text-anchor="end">{v:.1f}</text>'
        f'<line x1="{PAD}" y1="{_y(v)}" x2="{W - 10}" y2="{_y(v)}" stroke="#eee"/>' for v in (0, 0.25, 0.5, 0.75, 1)]


def _y(value: float) -> float:
    return round(H - PAD - max(0.0, min(1.0, value)) * (H - PAD - 30), 1)


def line_chart(title: str, points: list[tuple[str, float]]) -> str:
    """points: (label, value in [0, 1]) in time order."""
    out = _frame(title)
    if not points:
        out.append(f'<text x="{W / 2}" y="{H / 2}" text-anchor="middle" fill="#888">no data yet</text>')
    else:
        step = (W - PAD - 30) / max(1, len(points) - 1)
        coords = [(PAD + 10 + i * step, _y(v)) for i, (_, v) in enumerate(points)]
        out.append('<polyline fill="none" stroke="#1f6feb" stroke-width="2" points="'
                   + " ".join(f"{x:.1f},{y}" for x, y in coords) + '"/>')
        for (x, y), (label, v) in zip(coords, points):
            out.append(f'<circle cx="{x:.1f}" cy="{y}" r="3" fill="#1f6feb"><title>{escape(label)}: {v:.3f}</title>'
                       f'</circle>')
        out.append(f'<text x="{PAD + 10}" y="{H - PAD + 16}">{escape(points[0][0][:16])}</text>')
        out.append(f'<text x="{W - 10}" y="{H - PAD + 16}" text-anchor="end">{escape(points[-1][0][:16])}</text>')
    out.append("</svg>")
    return "".join(out)


def bar_chart(title: str, bars: list[tuple[str, float]]) -> str:
    out = _frame(title)
    if not bars:
        out.append(f'<text x="{W / 2}" y="{H / 2}" text-anchor="middle" fill="#888">no data yet</text>')
    width = (W - PAD - 20) / max(1, len(bars))
    for i, (label, value) in enumerate(bars[:40]):
        x = PAD + 5 + i * width
        y = _y(value)
        out.append(f'<rect x="{x:.1f}" y="{y}" width="{max(2, width - 6):.1f}" height="{H - PAD - y:.1f}" '
                   f'fill="#2ca02c"><title>{escape(label)}: {value:.3f}</title></rect>')
        out.append(f'<text x="{x + width / 2 - 3:.1f}" y="{H - PAD + 14}" text-anchor="middle">'
                   f'{escape(label[:18])}</text>')
    out.append("</svg>")
    return "".join(out)
