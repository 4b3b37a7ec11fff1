"""Charts for reports as inline SVG: a report is one self-contained file that reads the same in a
browser, an e-mail client and its PDF (no script runs there, so no plotting library's JavaScript)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

WIDTH, HEIGHT = 640, 180
PAD_L, PAD_R, PAD_T, PAD_B = 48, 12, 14, 26
PALETTE = ("#e4393c", "#1f6feb", "#2da44e", "#8250df")


def _fmt(v: float) -> str:
    if abs(v) >= 10_000:
        return f"{v / 1000:,.0f}k"
    return f"{v:,.0f}" if abs(v) >= 10 or v == int(v) else f"{v:,.2f}"


def _scale(values: Sequence[float | None]) -> tuple[float, float]:
    seen = [v for v in values if v is not None]
    lo = min(0.0, min(seen, default=0.0))
    hi = max(seen, default=1.0)
    return lo, hi if hi > lo else lo + 1.0


def line_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    bars: bool = False,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> str:
    """One chart over ``labels`` (x, shown at a few ticks): each series a line (or, with ``bars``, the first
    series as bars) on its own y range, the first series' axis labelled; a legend names them."""
    n = len(labels)
    if n == 0 or not series:
        return ""
    plot_w, plot_h = width - PAD_L - PAD_R, height - PAD_T - PAD_B
    step = plot_w / max(n - 1, 1) if not bars else plot_w / n
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" class="chart" '
        f'role="img" width="100%">'
    ]
    lo0, hi0 = _scale(series[0][1])
    for frac in (0.0, 0.5, 1.0):
        y = PAD_T + plot_h * (1 - frac)
        parts.append(
            f'<line x1="{PAD_L}" x2="{width - PAD_R}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{PAD_L - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="10">'
            f"{_fmt(lo0 + (hi0 - lo0) * frac)}</text>"
        )
    ticks = sorted({0, n - 1, *range(0, n, max(1, n // 6))})
    for i in ticks:
        x = PAD_L + (i + 0.5 if bars else i) * step
        label = escape(labels[i])
        parts.append(f'<text x="{x:.1f}" y="{height - 8}" text-anchor="middle" font-size="10">{label}</text>')
    for s, (name, values) in enumerate(series):
        lo, hi = _scale(values)
        color = PALETTE[s % len(PALETTE)]

        def y_of(v: float, lo: float = lo, hi: float = hi) -> float:
            return PAD_T + plot_h * (1 - (v - lo) / (hi - lo))

        if bars and s == 0:
            for i, v in enumerate(values):
                if v is None:
                    continue
                top, base = y_of(v), y_of(max(lo, 0.0))
                parts.append(
                    f'<rect x="{PAD_L + i * step + step * 0.1:.1f}" y="{min(top, base):.1f}" '
                    f'width="{step * 0.8:.1f}" height="{abs(base - top):.1f}" fill="{color}"/>'
                )
        else:
            offset = 0.5 if bars else 0.0
            points = " ".join(
                f"{PAD_L + (i + offset) * step:.1f},{y_of(v):.1f}"
                for i, v in enumerate(values)
                if v is not None
            )
            parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.8" points="{points}"/>')
        parts.append(
            f'<rect x="{PAD_L + 4 + s * 150}" y="2" width="10" height="8" fill="{color}"/>'
            f'<text x="{PAD_L + 18 + s * 150}" y="10" font-size="10">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def sparkline(values: Sequence[float | None], *, width: int = 120, height: int = 28) -> str:
    """A small line with no axes (a KPI tile's trend); empty when there are fewer than two points."""
    seen = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(seen) < 2:
        return ""
    lo, hi = _scale([v for _, v in seen])
    step = (width - 2) / max(len(values) - 1, 1)
    points = " ".join(
        f"{1 + i * step:.1f},{1 + (height - 2) * (1 - (v - lo) / (hi - lo)):.1f}" for i, v in seen
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" class="spark" role="img"><polyline fill="none" stroke="{PALETTE[0]}" '
        f'stroke-width="1.5" points="{points}"/></svg>'
    )
